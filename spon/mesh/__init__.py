"""Meshes from gmsh geometry sources, loaded into Firedrake."""
from .gmsh_io import GEOMETRIES, generate_msh, gmsh_mesh, meshes_dir

__all__ = ["GEOMETRIES", "generate_msh", "gmsh_mesh", "meshes_dir"]
