// Cook's membrane (mm): a tapered panel clamped on the left, sheared on the right.
// Boundary ids: 1 = clamped edge x = 0, 2 = loaded edge x = 48, 3 = free edges.
// Cell region 1.
Point(1) = {0, 0, 0}; Point(2) = {48, 44, 0}; Point(3) = {48, 60, 0}; Point(4) = {0, 44, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Curve Loop(1) = {1, 2, 3, 4};
Plane Surface(1) = {1};
Physical Curve(1) = {4};
Physical Curve(2) = {2};
Physical Curve(3) = {1, 3};
Physical Surface(1) = {1};
