// L-profile (mm): outer 100 x 100, flange width 40; clamped at the top of the
// vertical flange, loaded at the end of the horizontal flange.
// Boundary ids: 1 = clamped edge y = 100, 2 = loaded edge x = 100, 3 = free edges.
// Cell region 1.
Point(1) = {0, 0, 0};   Point(2) = {100, 0, 0}; Point(3) = {100, 40, 0};
Point(4) = {40, 40, 0}; Point(5) = {40, 100, 0}; Point(6) = {0, 100, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4};
Line(4) = {4, 5}; Line(5) = {5, 6}; Line(6) = {6, 1};
Curve Loop(1) = {1, 2, 3, 4, 5, 6};
Plane Surface(1) = {1};
Physical Curve(1) = {5};
Physical Curve(2) = {2};
Physical Curve(3) = {1, 3, 4, 6};
Physical Surface(1) = {1};
