// DFG flow around a cylinder (Schaefer & Turek 1996): channel [0, 2.2] x [0, 0.41],
// a cylinder of radius 0.05 centred at (0.2, 0.2).
// Boundary ids: 1: inflow (x = 0), 2: outflow (x = 2.2), 3: walls (y = 0 and y = 0.41), 4: cylinder.
// Element size 0.008 on the cylinder, growing with the distance from it up to the requested maximum h.
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
Field[1].Sampling = 200;
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = 0.008;
Field[2].SizeMax = 1.0;
Field[2].DistMin = 0.0;
Field[2].DistMax = 2.0;
Background Field = 2;
