// Unit cube with a central spherical hole of radius 0.25 (a 3D tetrahedral geometry).
// Boundary ids: 1: the six faces of the cube, 2: the hole. Cell region 1.
SetFactory("OpenCASCADE");
Box(1) = {0, 0, 0, 1, 1, 1};
Sphere(2) = {0.5, 0.5, 0.5, 0.25};
BooleanDifference(3) = { Volume{1}; Delete; }{ Volume{2}; Delete; };
faces() = Boundary{ Volume{3}; };
Physical Surface(1) = {faces(0), faces(1), faces(2), faces(3), faces(4), faces(5)};
Physical Surface(2) = {faces(6)};
Physical Volume(1) = {3};
