// A 3D cantilever bracket: a 3 x 1 x 1 bar with a cylindrical hole (radius 0.25) through it at x = 1.5.
// Boundary ids: 1: the clamped end x = 0, 2: every other face (the hole included). Cell region 1.
SetFactory("OpenCASCADE");
Box(1) = {0, 0, 0, 3, 1, 1};
Cylinder(2) = {1.5, 0.5, -0.1, 0, 0, 1.2, 0.25};
BooleanDifference(3) = { Volume{1}; Delete; }{ Volume{2}; Delete; };
clamped() = Surface In BoundingBox{-1e-6, -1e-6, -1e-6, 1e-6, 1 + 1e-6, 1 + 1e-6};
all() = Boundary{ Volume{3}; };
Physical Surface(1) = {clamped()};
Physical Surface(2) = {all()};
Physical Surface(2) -= {clamped()};
Physical Volume(1) = {3};
