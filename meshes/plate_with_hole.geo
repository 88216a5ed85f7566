// Unit square plate with a central circular hole of radius 0.2.
// Boundary ids: 1: x = 0, 2: x = 1, 3: y = 0, 4: y = 1, 5: the hole.
r = 0.2;
Point(1) = {0, 0, 0}; Point(2) = {1, 0, 0}; Point(3) = {1, 1, 0}; Point(4) = {0, 1, 0};
Point(5) = {0.5, 0.5, 0};
Point(6) = {0.5 + r, 0.5, 0}; Point(7) = {0.5, 0.5 + r, 0};
Point(8) = {0.5 - r, 0.5, 0}; Point(9) = {0.5, 0.5 - r, 0};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4}; Line(4) = {4, 1};
Circle(5) = {6, 5, 7}; Circle(6) = {7, 5, 8}; Circle(7) = {8, 5, 9}; Circle(8) = {9, 5, 6};
Curve Loop(1) = {1, 2, 3, 4};
Curve Loop(2) = {5, 6, 7, 8};
Plane Surface(1) = {1, 2};
Physical Curve(1) = {4};
Physical Curve(2) = {2};
Physical Curve(3) = {1};
Physical Curve(4) = {3};
Physical Curve(5) = {5, 6, 7, 8};
Physical Surface(1) = {1};
