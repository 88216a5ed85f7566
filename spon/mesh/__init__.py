"""Meshes from gmsh geometry sources, loaded into Firedrake."""
from .gmsh_io import GEOMETRIES, generate_msh, gmsh_mesh, meshes_dir
from .meshio_io import read_mesh
from .rve import RVE_KINDS, check_periodic_msh, rve_mesh, rve_msh, tile_rve_msh
from .periodic import match_periodic_nodes, periodic_msh, read_tables
from .rve3d import RVE3D_KINDS, rve3d_mesh, rve3d_msh
from .spec import MeshSpec, build_hierarchy, build_mesh, save_mesh

__all__ = ["GEOMETRIES", "generate_msh", "gmsh_mesh", "meshes_dir", "MeshSpec", "build_hierarchy", "save_mesh",
           "build_mesh", "RVE_KINDS", "rve_msh", "rve_mesh", "check_periodic_msh", "tile_rve_msh", "read_mesh",
           "match_periodic_nodes", "periodic_msh", "read_tables", "RVE3D_KINDS", "rve3d_msh", "rve3d_mesh"]
