"""Baselines every problem compares against: the grid FNO, SPON's own recipe, least squares."""
