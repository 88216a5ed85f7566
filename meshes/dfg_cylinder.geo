// DFG flow around a cylinder (Schaefer & Turek 1996): channel [0, 2.2] x [0, 0.41],
// a cylinder of radius 0.05 centred at (0.2, 0.2).
// Boundary ids: 1: inflow (x = 0), 2: outflow (x = 2.2), 3: walls (y = 0 and y = 0.41), 4: cylinder.
// Sizes follow the requested maximum h (read from Mesh.MeshSizeMax): h/8 on the cylinder,
// growing linearly to h at distance 0.3 from it, and at most h/2 in the near wake.
h = Mesh.MeshSizeMax;
If (h > 1)
  h = 0.04;
EndIf
L = 2.2; H = 0.41; cx = 0.2; cy = 0.2; r = 0.05;
Point(1) = {0, 0, 0}; Point(2) = {L, 0, 0}; Point(3) = {L, H, 0}; Point(4) = {0, H, 0};
Point(5) = {cx, cy, 0};
Point(6) = {cx + r, cy, 0}; Point(7) = {cx, cy + r, 0}; Point(8) = {cx - r, cy, 0}; Point(9) = {cx, cy - r, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Circle(5) = {6, 5, 7}; Circle(6) = {7, 5, 8}; Circle(7) = {8, 5, 9}; Circle(8) = {9, 5, 6};
Curve Loop(1) = {1, 2, 3, 4};
Curve Loop(2) = {5, 6, 7, 8};
Plane Surface(1) = {1, 2};
Physical Curve(1) = {4};
Physical Curve(2) = {2};
Physical Curve(3) = {1, 3};
Physical Curve(4) = {5, 6, 7, 8};
Physical Surface(1) = {1};
Field[1] = Distance;
Field[1].CurvesList = {5, 6, 7, 8};
Field[1].Sampling = 400;
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = h / 8;
Field[2].SizeMax = h;
Field[2].DistMin = 0.0;
Field[2].DistMax = 0.3;
Field[3] = Box;
Field[3].VIn = h / 2;
Field[3].VOut = h;
Field[3].XMin = 0.1; Field[3].XMax = 1.2; Field[3].YMin = 0.08; Field[3].YMax = 0.33;
Field[4] = Min;
Field[4].FieldsList = {2, 3};
Background Field = 4;
