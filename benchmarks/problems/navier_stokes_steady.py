"""Steady flow past the DFG cylinder for peak inflow U_m in [0.075, 0.6] (Re 5 to 40): the Stokes flow
with the same inflow (linear in U_m, one solve) in, the Navier-Stokes velocity out. SPON models use a
Dirichlet decoder whose boundary values are each sample's own (the input's: inflow profile, no slip on
walls and cylinder), passed per sample through the Trainer; ``spon_mg_mixed``: (u, p) in and out on
Taylor-Hood, through one V-cycle on the shared P2 node graph; ``spon_mg_divfree``: u = curl ψ in RT2
from the Stokes flow's stream function; the masked FNO sees the Stokes flow, x, y and the mask on a
grid over the channel's bounding box::

    python -m benchmarks run navier_stokes_steady --seeds 3
"""
import time

import firedrake as fd
import numpy as np
import torch

from spon.data.navier_stokes import CYLINDER, INFLOW, WALLS, H, DFGChannel
from spon.fem import FENorm, GridTransfer, curl_matrix
from spon.mesh import MeshSpec

from ..baselines import fno, spon as spon_baseline
from ..baselines.least_squares import LeastSquaresOperator
from ..harness import data_path_check, l2_project_rows, run_seeds, section_main, seeds_of, summary
from .hyperelasticity import RECIPE, SETTINGS

BOUNDARY = [INFLOW, WALLS, CYLINDER]


def add_arguments(p):
    p.add_argument("--ns-h", type=float, default=0.08, help="gmsh size of the DFG channel's base mesh (refined once)")
    p.add_argument("--ns-train", type=int, default=40)
    p.add_argument("--ns-test", type=int, default=20)
    p.add_argument("--ns-grid", type=int, default=64, help="FNO grid points per side on the channel's box")
    p.add_argument("--ns-models", default="spon_mg,spon_graph,fno,spon_mg_mixed,spon_mg_divfree",
                   help="models of navier_stokes_steady (also: least_squares, Stokes flow to velocity)")
    p.add_argument("--ns-steady-epochs", type=int, default=None,
                   help="epochs of every navier_stokes_steady model (default 100; 30 with --quick)")
    p.add_argument("--ns-batch", type=int, default=4, help="batch of the SPON models in navier_stokes_steady")
    p.add_argument("--ns-lr", type=float, default=1e-3,
                   help="peak one-cycle rate of the SPON models in navier_stokes_steady")


def state(w):
    """(u, p) flat: the velocity block (node-major, interleaved), then the pressure."""
    return torch.cat([torch.as_tensor(f.dat.data_ro.copy()).reshape(-1) for f in w.subfunctions])


def stokes_flow(ch):
    """The Stokes flow in the channel for U_m = 1 (the input is U_m times it)."""
    w_s = fd.Function(ch.W)
    (u, p), (v, q) = fd.TrialFunctions(ch.W), fd.TestFunctions(ch.W)
    ch.U_m.assign(1.0)
    fd.solve((ch.nu * fd.inner(fd.grad(u), fd.grad(v)) - p * fd.div(v) - q * fd.div(u)) * fd.dx
             == fd.inner(fd.Constant((0.0, 0.0)), v) * fd.dx, w_s, bcs=ch.bcs,
             solver_parameters={"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})
    return w_s


def channel_divfree(ch, w_s, U_m, Y, te):
    """Data of the divergence-free steady model: ψ's boundary data per sample (the inflow's stream
    function, the walls' and the Stokes flow's flux below the cylinder, all times U_m), the training
    targets (the L² projections of the Taylor–Hood velocities onto RT2) and the scores of a prediction
    against the Taylor–Hood velocities."""
    mesh = ch.mesh
    RT, Z = fd.FunctionSpace(mesh, "RT", 2), fd.FunctionSpace(mesh, "CG", 2)
    u_s = w_s.subfunctions[0]                                 # the Stokes flow at U_m = 1
    c = ch.flux_below_cylinder(u_s)
    # its stream function: the data on inflow, walls and cylinder, curl ψ closest to u_s in L² inside
    data = ch.stream_function_data(Z, c)
    psi_s, phi, chi = fd.Function(Z), fd.TrialFunction(Z), fd.TestFunction(Z)
    fd.solve(fd.inner(fd.grad(phi), fd.grad(chi)) * fd.dx == fd.inner(u_s, fd.curl(chi)) * fd.dx, psi_s,
             bcs=fd.DirichletBC(Z, data, tuple(BOUNDARY)))
    psi = torch.as_tensor(U_m)[:, None] * torch.as_tensor(psi_s.dat.data_ro.copy())[None]
    T = l2_project_rows(Y, ch.V, RT)
    uth = fd.Function(ch.V)
    split = []
    for i in range(len(Y)):
        uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
        split.append(ch.flux_below_cylinder(uth) / (U_m[i] * c) - 1)
    n = fd.FacetNormal(mesh)
    yy = fd.SpatialCoordinate(mesh)[1]

    def score(pred):
        rel, div, bnd, inflow = [], [], [], []
        u = fd.Function(RT)
        for j, i in enumerate(range(te.start, te.stop)):
            u.dat.data[:] = pred[j].numpy()
            uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
            u_in = fd.as_vector([4 * float(U_m[i]) * yy * (H - yy) / H ** 2, 0])
            rel.append(fd.sqrt(fd.assemble(fd.inner(u - uth, u - uth) * fd.dx)) / fd.norm(uth))
            div.append(fd.norm(fd.div(u)) / fd.norm(u))
            bnd.append(fd.assemble(fd.dot(u, n) ** 2 * fd.ds((WALLS, CYLINDER))) ** 0.5)
            inflow.append((fd.assemble(fd.dot(u - u_in, n) ** 2 * fd.ds(INFLOW))
                           / fd.assemble(fd.dot(u_in, n) ** 2 * fd.ds(INFLOW))) ** 0.5)
        return {"rel_l2": float(np.mean(rel)), "max_divergence": float(np.max(div)),
                "max_boundary_error": float(np.max(bnd)), "inflow_normal_error": float(np.max(inflow))}

    info = {"space": "u = curl psi in RT2, psi in CG2 with per-sample data on inflow, walls and cylinder",
            "stokes_flux_below_cylinder": c,
            "truth_flux_split_rel_diff": {"max": float(np.max(np.abs(split))), "mean": float(np.mean(split))},
            "rt2_projection_of_truth": score(T[te]),      # the RT2 projection of the truth: what the space allows
            "stokes_as_prediction": score(torch.sparse.mm(curl_matrix(Z, RT), psi[te].T).T),
            "metric": "rel_l2 against the Taylor-Hood velocity; max_divergence = max ||div u|| / ||u||; "
                      "max_boundary_error = max ||u.n||_L2(walls, cylinder); inflow_normal_error = max relative "
                      "L2 error of u.n on the inflow (RT2 holds the parabola's flux per edge, not its profile)"}
    return {"psi": psi, "targets": T, "score": score, "info": info}


def run(a, out):
    a.ns_steady_epochs = a.ns_steady_epochs or (30 if a.quick else 100)
    ms = MeshSpec("dfg_cylinder", a.ns_h, 1)
    ch = DFGChannel(ms)
    V = ch.V
    n = a.ns_train + a.ns_test
    U_m = np.random.default_rng(0).uniform(0.075, 0.6, size=n)
    w_s = stokes_flow(ch)
    stokes = state(w_s)
    t0 = time.perf_counter()
    Ymix = torch.empty(n, ch.W.dim(), dtype=torch.float64)
    ch.w.zero()
    for i in np.argsort(U_m):                   # continuation: each Newton solve starts at the last
        ch.solve_steady(float(U_m[i]))
        Ymix[i] = state(ch.w)
    data_seconds = time.perf_counter() - t0
    Xmix = torch.as_tensor(U_m)[:, None] * stokes[None]
    nu = V.dim()
    X, Y = Xmix[:, :nu].contiguous(), Ymix[:, :nu].contiguous()
    te, tr = slice(0, a.ns_test), slice(a.ns_test, n)
    norm, p_norm = FENorm(V), FENorm(ch.Q)
    bdofs = ch.velocity_boundary_dofs()
    grid = GridTransfer(fd.FunctionSpace(ch.mesh, "CG", 2), n=a.ns_grid)
    sec = {"mesh": ms.to_dict(), "velocity_dofs": V.dim(), "mixed_dofs": ch.dofs, "levels": 2,
           "U_m_range": [0.075, 0.6], "reynolds_range": [5, 40], "n_train": a.ns_train, "n_test": a.ns_test,
           "epochs": a.ns_steady_epochs, "batch_size": a.ns_batch, "seeds": a.seeds, "data_seconds": data_seconds,
           "stokes_as_prediction": {"rel_l2": norm.relative_error(X[te], Y[te]).mean().item(),
                                    "pressure_rel_l2": p_norm.relative_error(Xmix[te, nu:], Ymix[te, nu:])
                                    .mean().item(),
                                    "note": "the input itself (Stokes flow) as a prediction: what learning must beat"},
           "grid": a.ns_grid, "grid_points_inside": int(grid.mask.sum()), "data_path": data_path_check(grid),
           "metric": "relative L2 error of the velocity on the test values of U_m; max_boundary_error over "
                     "inflow, walls and cylinder DOFs", "recipe": RECIPE, "runs": {},
           "spon_settings": {"lr": a.ns_lr, "batch_size": a.ns_batch, "epochs": a.ns_steady_epochs,
                             "note": "SPON's recipe but for the rate and the batch: 40 samples in batches of 16 "
                                     "give 3 steps an epoch; the FNO keeps its own recipe (batch 20) with the "
                                     "same epochs"}}
    base = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 2, "shape": [2]},
            "output": {"family": "CG", "degree": 2, "shape": [2]}, "encoder": "l2",
            "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": BOUNDARY}, "dtype": "float32"}
    procs = {"spon_mg": spon_baseline.mg(linear_skip=True),
             "spon_graph": {**spon_baseline.GRAPH, "linear_skip": True}}
    TH = {"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]}
    mixed = {"kind": "mixed", "parts": [dict(base["decoder"]), {"kind": "coefficients"}]}
    specs = {"spon_mg_mixed": {**base, "input": TH, "output": TH, "encoder": "coefficients", "decoder": mixed,
                               "processor": procs["spon_mg"]},
             "spon_mg_divfree": {**base, "input": {"family": "CG", "degree": 2}, "encoder": "coefficients",
                                 "output": {"family": "RT", "degree": 2},
                                 "decoder": {"kind": "divergence_free", "boundary": BOUNDARY},
                                 "processor": procs["spon_mg"]},
             "spon_mg": {**base, "processor": procs["spon_mg"]},
             "spon_graph": {**base, "processor": procs["spon_graph"]}}
    if "spon_mg_divfree" in a.ns_models.split(","):
        divfree = channel_divfree(ch, w_s, U_m, Y, te)
        sec["divfree"] = divfree["info"]
    # each kind's (inputs, targets); SPON models take each sample's boundary values from its input
    data = {"spon_mg_mixed": (Xmix, Ymix), "fno": (X, Y)}
    if "divfree" in sec:
        data["spon_mg_divfree"] = (divfree["psi"], divfree["targets"])
    for kind in a.ns_models.split(","):
        Xk, Yk = data.get(kind, (X, Y))

        def make(seed, kind=kind):
            if kind == "least_squares":
                return LeastSquaresOperator(error=lambda P, Y: norm.relative_error(P, Y).mean().item())
            if kind == "fno":
                return fno.GridFNO(grid, seed=seed, c=2, **SETTINGS["fno"])
            return spon_baseline.SPONModel(specs[kind], seed, lr=a.ns_lr, batch_size=a.ns_batch, g_from_input=True,
                                           evaluate_in_float64=True)

        def score(m, kind=kind, Xk=Xk):
            full = m.predict(Xk[te], batch=16) if isinstance(m, spon_baseline.SPONModel) else m.predict(Xk[te])
            extra = ({} if kind == "least_squares" else
                     {"epochs": a.ns_steady_epochs, "batch_size": 20 if kind == "fno" else a.ns_batch})
            if kind == "spon_mg_divfree":        # u = curl ψ in RT2: div u = 0, u·n from the data, to round-off
                return {**divfree["score"](full), **extra}
            pred = full[:, :nu]
            rec = {"rel_l2": norm.relative_error(pred, Y[te]).mean().item(),
                   "max_boundary_error": (pred[:, bdofs] - Y[te][:, bdofs]).abs().max().item(), **extra}
            if kind == "spon_mg_mixed":
                rec["pressure_rel_l2"] = p_norm.relative_error(full[:, nu:], Ymix[te, nu:]).mean().item()
            return rec

        runs = run_seeds(kind, seeds_of(kind, a), make, lambda m, seed, kind=kind, Xk=Xk, Yk=Yk: m.fit(
            Xk[tr], Yk[tr], a.ns_steady_epochs, desc=f"{kind} seed {seed}"), score)
        sec["runs"][kind] = runs
        sec[kind] = summary(runs, *(("max_divergence", "inflow_normal_error") if kind == "spon_mg_divfree" else ()))
        if kind == "spon_mg_mixed":
            sec[kind]["pressure_rel_l2"] = float(np.mean([r["pressure_rel_l2"] for r in runs]))
        out["navier_stokes_steady"] = sec
    best = min((sec[k]["rel_l2"] for k in ("spon_mg", "spon_mg_mixed") if k in sec), default=None)
    sec["target"] = {"spon_mg_rel_l2_at_most": 0.03, "met": best is not None and best <= 0.03}
    return sec


main = section_main("navier_stokes_steady", add_arguments, run, __doc__)
