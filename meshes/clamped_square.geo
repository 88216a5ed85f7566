// The unit square as a specimen clamped at x = 0 and pulled at x = 1 (FE² against DNS).
// Boundary ids: 1: x = 0 (clamped), 2: x = 1 (loaded), 3: y = 0, 4: y = 1. Surface 1.
// Sizes follow the requested maximum h (read from Mesh.MeshSizeMax): h/8 at the clamped
// corners, where the homogenised stress is singular, growing linearly to h at distance 0.6.
h = Mesh.MeshSizeMax;
If (h > 1)
  h = 0.25;
EndIf
Point(1) = {0, 0, 0}; Point(2) = {1, 0, 0}; Point(3) = {1, 1, 0}; Point(4) = {0, 1, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4};
Plane Surface(1) = {1};
Physical Curve(1) = {4};
Physical Curve(2) = {2};
Physical Curve(3) = {1};
Physical Curve(4) = {3};
Physical Surface(1) = {1};
Field[1] = Distance;
Field[1].PointsList = {1, 4};
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = h / 8;
Field[2].SizeMax = h;
Field[2].DistMin = 0.0;
Field[2].DistMax = 0.6;
Background Field = 2;
