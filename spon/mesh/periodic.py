"""Periodic RVE meshes from files that are periodic in geometry but carry no periodic links.

Most tools (Abaqus ``.inp``, VTU, plain node and element tables) write a periodic
cell as an ordinary mesh whose opposite faces happen to have matching nodes.
:func:`match_periodic_nodes` pairs every node on a maximum face of the bounding
box with its image on the minimum faces, by coordinate within a tolerance, and
refuses the mesh, naming the first node without a partner, when they do not match.
:func:`periodic_msh` writes the result as MSH 2.2 with the pairs in ``$Periodic``,
which Firedrake loads as a periodic mesh.

Plain tables (:func:`read_tables`): a node table ``[id,] x, y[, z]`` and an element
table ``[id,] n₁ … n_k, material`` (CSV or whitespace separated; header lines are
skipped). Quadratic cells are reduced to their corners, said plainly: an 8-node
quadrilateral (or 6-node triangle, 10-node tetrahedron, 20-node hexahedron) becomes
its linear cell with the same corner nodes, and the mid-side nodes are dropped; the
geometry is exact for straight-sided cells, which is what these grids are.

Examples
--------
>>> import numpy as np, meshio
>>> X = np.array([[x, y] for y in (0.0, 0.5, 1.0) for x in (0.0, 0.5, 1.0)])
>>> quads = np.array([[0, 1, 4, 3], [1, 2, 5, 4], [3, 4, 7, 6], [4, 5, 8, 7]])
>>> pairs = match_periodic_nodes(meshio.Mesh(X, [("quad", quads)]))
>>> len(pairs)        # 3 nodes on x = 1 and 3 on y = 1, the corner once
5
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .gmsh_io import cache_dir

__all__ = ["match_periodic_nodes", "periodic_msh", "read_tables", "read_abaqus", "LINEAR_CORNERS"]

#: cell type → (linear type, number of corner nodes); corners come first in meshio/gmsh/Abaqus order
LINEAR_CORNERS = {"quad8": ("quad", 4), "quad9": ("quad", 4), "triangle6": ("triangle", 3),
                  "tetra10": ("tetra", 4), "hexahedron20": ("hexahedron", 8), "hexahedron27": ("hexahedron", 8)}
_VOLUME = {2: ("triangle", "quad"), 3: ("tetra", "hexahedron")}


def _used(mesh):
    return np.unique(np.concatenate([np.asarray(b.data).ravel() for b in mesh.cells]))


def match_periodic_nodes(mesh, tol: float = 1e-8, name: str = "mesh", labels=None) -> np.ndarray:
    """``(n, 2)`` pairs ``(node on a maximum face, its image on the minimum faces)`` of a meshio mesh.

    Each node with a coordinate at the maximum of the bounding box is mapped to the node
    at its image with *every* such coordinate moved to the minimum (corners and edges go
    straight to their final partner). ``tol`` is relative to the cell size; ``labels`` name the
    nodes in the error (default: their index).
    """
    d = 3 if any(b.type in ("tetra", "hexahedron") for b in mesh.cells) else 2
    X = np.asarray(mesh.points)[:, :d]
    used = _used(mesh)
    lo, hi = X[used].min(axis=0), X[used].max(axis=0)
    L = hi - lo
    if np.any(L <= 0):
        raise ValueError(f"{name}: the cell has zero extent along an axis ({L.tolist()})")
    atol = tol * L.max()
    key = lambda P: np.round((P - lo) / (atol * 4)).astype(np.int64)   # noqa: E731
    table = {tuple(k): int(i) for k, i in zip(key(X[used]), used)}

    def find(p):
        k = key(p[None])[0]
        for off in np.ndindex(*(3,) * d):          # neighbouring bins: robust to rounding at a bin edge
            j = table.get(tuple(k + np.array(off) - 1))
            if j is not None and np.abs(X[j] - p).max() <= atol:
                return j
        return None

    pairs = []
    for d_ in range(d):
        for side in ("min", "max"):
            face = used[np.abs(X[used, d_] - (lo if side == "min" else hi)[d_]) <= atol]
            other = lo[d_] + L[d_] if side == "min" else lo[d_]
            for i in face:      # every face node must have a partner on the opposite face
                p = X[i].copy()
                p[d_] = other
                if find(p) is None:
                    raise ValueError(f"{name} is not a periodic RVE: node {int(i if labels is None else labels[i])} at {X[i].tolist()} on the "
                                     f"{side} face normal to {'xyz'[d_]} has no partner at {p.tolist()} "
                                     f"(tolerance {atol:.3g})")
    for i in used:
        at_max = np.abs(X[i] - hi) <= atol
        if at_max.any():
            p = np.where(at_max, lo, X[i])
            pairs.append((int(i), find(p)))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def read_tables(nodes, elements, *, dim: int = 2, ids: bool = True, delimiter: str | None = None):
    """A meshio mesh from a node table and an element table (paths), with physical ids from the
    elements' last column. ``ids``: the first column of both tables is an id (elements then refer
    to node ids, 0- or 1-based as the node table says)."""
    import meshio

    def load(path, what):
        rows = []
        for line in Path(path).read_text().splitlines():
            parts = line.replace(",", " ").split() if delimiter is None else line.split(delimiter)
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                if rows:
                    raise ValueError(f"{what}: {path} has a non-numeric line after data: {line!r}") from None
        if not rows or len({len(r) for r in rows}) != 1:
            raise ValueError(f"{what}: {path} is not a table of equal-length numeric rows")
        return np.array(rows)

    N, E = load(nodes, "nodes"), load(elements, "elements")
    ncoord = N.shape[1] - int(ids)
    if ncoord not in (dim, 3):
        raise ValueError(f"nodes: expected {'an id and ' if ids else ''}{dim} coordinates per row, got "
                         f"{N.shape[1]} columns")
    X = N[:, int(ids):int(ids) + dim]
    conn = E[:, int(ids):-1].astype(np.int64)
    mat = E[:, -1].astype(np.int64)
    if ids:
        node_id = N[:, 0].astype(np.int64)
        index = {k: i for i, k in enumerate(node_id)}
        try:
            conn = np.vectorize(index.__getitem__)(conn)
        except KeyError as e:
            raise ValueError(f"elements: node id {e.args[0]} is not in the node table") from None
    k = conn.shape[1]
    types = {2: {3: "triangle", 4: "quad", 6: "triangle6", 8: "quad8", 9: "quad9"},
             3: {4: "tetra", 8: "hexahedron", 10: "tetra10", 20: "hexahedron20", 27: "hexahedron27"}}[dim]
    if k not in types:
        raise ValueError(f"elements: {k} nodes per element is not a {dim}D cell spon reads ({sorted(types)})")
    label = N[:, 0].astype(np.int64) if ids else np.arange(len(N))
    return meshio.Mesh(np.c_[X, np.zeros((len(X), 3 - dim))] if dim == 2 else X, [(types[k], conn)],
                       cell_data={"gmsh:physical": [mat]}, point_data={"node_id": label})


def read_abaqus(path):
    """A meshio mesh from an Abaqus ``.inp`` (``*NODE``, ``*ELEMENT``, ``*ELSET`` with ``GENERATE``), with
    physical ids from the element sets: the sets named by ``*SOLID SECTION, ELSET=…`` if there are any,
    else every set, numbered 1, 2, … in file order (``mesh.field_data`` maps names to ids). Any element
    type with 3/4/6/8 (2D) or 4/8/10/20 (3D) nodes is read by its node count (plane strain CPE4 and
    CPE8R included, which meshio's reader refuses)."""
    import meshio
    nodes, elements, sets, sections = {}, {}, {}, []
    block, current = None, None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("**"):
            continue
        if line.startswith("*"):
            words = [w.strip() for w in line[1:].split(",")]
            key = words[0].upper()
            opts = {w.split("=")[0].strip().upper(): w.split("=")[1].strip() for w in words[1:] if "=" in w}
            flags = {w.strip().upper() for w in words[1:] if "=" not in w}
            block, current = None, None
            if key == "NODE":
                block = "node"
            elif key == "ELEMENT":
                block, current = "element", opts.get("ELSET")
                if current:
                    sets.setdefault(current, [])
            elif key == "ELSET":
                block, current = ("generate" if "GENERATE" in flags else "elset"), opts["ELSET"]
                sets.setdefault(current, [])
            elif key == "SOLID SECTION" and "ELSET" in opts:
                sections.append(opts["ELSET"])
            continue
        vals = [v for v in line.split(",") if v.strip()]
        if block == "node":
            nodes[int(vals[0])] = [float(v) for v in vals[1:]]
        elif block == "element":
            elements[int(vals[0])] = [int(v) for v in vals[1:]]
            if current:
                sets[current].append(int(vals[0]))
        elif block == "elset":
            sets[current] += [int(v) for v in vals]
        elif block == "generate":
            a, b, *st = (int(v) for v in vals)
            sets[current] += list(range(a, b + 1, st[0] if st else 1))
    if not nodes or not elements:
        raise ValueError(f"path: {path} has no *NODE or no *ELEMENT data")
    phases = [n for n in (sections or list(sets)) if n in sets]
    if not phases:
        raise ValueError(f"path: {path} has no element sets (*ELSET) to tell the phases apart")
    pid = {}
    for k, name in enumerate(phases, start=1):
        for e in sets[name]:
            pid.setdefault(e, k)
    missing = [e for e in elements if e not in pid]
    if missing:
        raise ValueError(f"path: {path}: element {missing[0]} is in none of the phase sets {phases}")
    ids = sorted(nodes)
    index = {n: i for i, n in enumerate(ids)}
    X = np.array([nodes[n] for n in ids])
    dim = 3 if X.shape[1] == 3 and np.ptp(X[:, 2]) > 0 else 2
    types = {2: {3: "triangle", 4: "quad", 6: "triangle6", 8: "quad8"},
             3: {4: "tetra", 8: "hexahedron", 10: "tetra10", 20: "hexahedron20"}}[dim]
    blocks = {}
    for e, conn in elements.items():
        t = types.get(len(conn))
        if t is None:
            raise ValueError(f"path: {path}: element {e} has {len(conn)} nodes, not a {dim}D cell spon reads")
        blocks.setdefault(t, []).append((e, [index[n] for n in conn]))
    cells = [(t, np.array([c for _, c in b])) for t, b in blocks.items()]
    phys = [np.array([pid[e] for e, _ in b]) for b in blocks.values()]
    pts = np.c_[X[:, :2], np.zeros(len(X))] if dim == 2 else X
    m = meshio.Mesh(pts, cells, cell_data={"gmsh:physical": phys}, point_data={"node_id": np.array(ids)})
    m.field_data = {name: np.array([k, dim]) for k, name in enumerate(phases, start=1)}
    return m


def _linear(mesh, name):
    """Volume cells only, quadratic cells reduced to their corners, unused nodes dropped."""
    import meshio
    d = 3 if any(b.type.startswith(("tetra", "hexa")) for b in mesh.cells) else 2
    tag = next((t for t in ("gmsh:physical", "medit:ref", "cell_tags", "CellEntityIds") if t in mesh.cell_data),
               None)
    if tag is None:
        raise ValueError(f"{name}: has no physical groups (a phase id per cell); spon needs them to tell the "
                         "phases apart")
    cells, phys, reduced = [], [], []
    for b, ph in zip(mesh.cells, mesh.cell_data[tag]):
        t, data = b.type, np.asarray(b.data)
        if t in LINEAR_CORNERS:
            t, k = LINEAR_CORNERS[t]
            data, reduced = data[:, :k], reduced + [b.type]
        if t in _VOLUME[d]:
            cells.append((t, data))
            phys.append(np.asarray(ph, dtype=int))
    if not cells:
        raise ValueError(f"{name}: holds no {d}D cells ({' or '.join(_VOLUME[d])})")
    used = np.unique(np.concatenate([c.ravel() for _, c in cells]))
    renum = np.full(len(mesh.points), -1)
    renum[used] = np.arange(len(used))
    pts = np.asarray(mesh.points)[used]
    pts = np.c_[pts, np.zeros((len(pts), 3 - pts.shape[1]))]
    out = meshio.Mesh(pts, [(t, renum[c]) for t, c in cells],
                      cell_data={"gmsh:physical": phys, "gmsh:geometrical": phys})
    label = np.asarray(mesh.point_data.get("node_id", np.arange(len(mesh.points))))[used]
    return out, sorted(set(reduced)), label


def periodic_msh(source, tol: float = 1e-8) -> tuple[Path, dict]:
    """MSH 2.2 (cached, written atomically) of a geometrically periodic cell with the matched node
    pairs in ``$Periodic``; ``source`` is a path meshio reads, a meshio mesh, or ``(nodes, elements)``
    table paths (2D, with ids). Returns the path and a report (``pairs``, ``reduced`` cell types)."""
    import meshio
    if isinstance(source, tuple):
        name = f"nodes, elements: {source[0]}, {source[1]}"
        raw = read_tables(*source)
        blob = Path(source[0]).read_bytes() + Path(source[1]).read_bytes()
    elif isinstance(source, meshio.Mesh):
        name, raw = "mesh", source
        blob = np.asarray(source.points).tobytes() + b"".join(np.asarray(b.data).tobytes() for b in source.cells)
    else:
        p = Path(source)
        if not p.is_file():
            raise FileNotFoundError(f"path: no mesh file at {p}")
        name = f"path: {p}"
        try:
            raw = read_abaqus(p) if p.suffix.lower() == ".inp" else meshio.read(p)
        except (Exception, SystemExit) as e:
            raise ValueError(f"path: {p} is not a mesh meshio can read ({type(e).__name__}: {e})") from None
        blob = p.read_bytes()
    m, reduced, label = _linear(raw, name)
    if reduced:
        import warnings
        warnings.warn(f"{name}: quadratic cells ({', '.join(reduced)}) reduced to their corners; the mid-side "
                      "nodes are dropped (exact for straight-sided cells)", stacklevel=2)
    pairs = match_periodic_nodes(m, tol, name, label)
    key = hashlib.sha256(blob + repr(tol).encode()).hexdigest()[:16]
    out = cache_dir() / f"periodic-{key}.msh"
    if not out.is_file():
        m.gmsh_periodic = [[1 if np.ptp(m.points[:, 2]) == 0 else 2, (1, 1), None, pairs]]
        with atomic_path(out, ".msh") as tmp:
            meshio.write(tmp, m, file_format="gmsh22", binary=False)
    return out, {"pairs": len(pairs), "reduced": reduced}
