"""Meshes from gmsh geometry sources, loaded into Firedrake."""
from .gmsh_io import GEOMETRIES, generate_msh, gmsh_mesh, meshes_dir
from .meshio_io import read_mesh
from .rve import RVE_KINDS, check_periodic_msh, rve_mesh, rve_msh, tile_rve_msh
from .spec import MeshSpec, build_hierarchy, build_mesh, save_mesh

__all__ = ["GEOMETRIES", "generate_msh", "gmsh_mesh", "meshes_dir", "MeshSpec", "build_hierarchy", "save_mesh",
           "build_mesh", "RVE_KINDS", "rve_msh", "rve_mesh", "check_periodic_msh", "tile_rve_msh", "read_mesh"]
