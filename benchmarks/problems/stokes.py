"""Stokes velocity from a random body force (section ``stokes_divfree``): SPON with the
stream-function/curl decoder (u ∈ RT2, div u = 0 and u·n = 0 exactly) against SPON with an
unconstrained vector decoder (u ∈ [CG2]², u = 0 on the walls exactly) and the FNO (its recipe; f on
the grid, bilinear back to the [CG2]² nodes), all scored against the Taylor–Hood velocity.

``spon_linear_divfree`` is SPON with the same curl decoder and a linear processor (an affine map,
``{"kind": "mlp", "depth": 0}``) fitted in closed form: the decoder's best stream function for each
training target (``curl_decoder_floor``: how close any ψ gets), then ridge least squares from the
encoded force to it (α on a validation split of ``--n-val`` samples). The map f ↦ u is linear, so this
is the best a structure-exact model can do with the data; it is run for every size of
``--stokes-sizes`` (the extra samples are generated after the section's own, which stay the same)::

    python -m benchmarks run stokes --quick
"""
import firedrake as fd
import numpy as np
import torch

from spon.data import StokesProblem
from spon.fem import FENorm, GridTransfer
from spon.mesh import MeshSpec

from ..baselines import fno, spon as spon_baseline
from ..baselines.least_squares import LeastSquaresOperator
from ..harness import data_path_check, generate, l2_project_rows, run_seeds, section_main, seeds_of, summary


def add_arguments(p):
    p.add_argument("--stokes-h", type=float, default=0.25, help="gmsh size of the Stokes unit square base mesh")
    p.add_argument("--grid", type=int, default=32)
    p.add_argument("--stokes-models", default="spon_linear_divfree,spon_linear_divfree_physics,spon_mg_divfree,"
                                               "spon_graph_divfree,"
                                               "spon_mg_vector,fno,least_squares",
                   help="models of the stokes_divfree section (least_squares: on the [CG2]² velocity)")
    p.add_argument("--stokes-sizes", default="100,200,400,800", help="training sizes of spon_linear_divfree")
    p.add_argument("--n-val", type=int, default=20)
    p.add_argument("--physics-degree", type=int, default=3,
                   help="spon_linear_divfree_physics: the RT degree of its curl decoder (psi in CG of the same degree)")
    p.add_argument("--physics-pool", type=int, default=1000,
                   help="spon_linear_divfree_physics: unlabelled random forces it is fitted on")


def run(a, out):
    ms = MeshSpec("unit_square", a.stokes_h, 2)
    prob = StokesProblem(ms)
    sizes = [int(k) for k in a.stokes_sizes.split(",")]
    n_lin = max(sizes) if "spon_linear_divfree" in a.stokes_models else 0
    n = a.n_test + max(a.n_train, n_lin) + a.n_val
    X, Y, data_seconds = generate(prob, n)
    mesh, V = prob.mesh, prob.output_space
    RT = fd.FunctionSpace(mesh, "RT", 2)
    T = l2_project_rows(Y, V, RT)     # targets of the divergence-free model: the TH velocity's L2 projection
    nrm = fd.FacetNormal(mesh)
    uth = fd.Function(V)

    def score(pred, space):
        rel, div, bnd = [], [], []
        u = fd.Function(space)
        for i in range(a.n_test):
            u.dat.data[:] = pred[i].reshape(u.dat.data.shape).numpy()
            uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
            rel.append(fd.sqrt(fd.assemble(fd.inner(u - uth, u - uth) * fd.dx)) / fd.norm(uth))
            div.append(fd.norm(fd.div(u)) / fd.norm(u))
            bnd.append(fd.sqrt(fd.assemble(fd.inner(u, u) * fd.ds)) if space is V else
                       fd.sqrt(fd.assemble(fd.dot(u, nrm) ** 2 * fd.ds)))
        return float(np.mean(rel)), float(np.max(div)), float(np.max(bnd))

    vnorm = FENorm(V)

    def score_val(P, Yv):
        return vnorm.relative_error(P.double(), Yv.double()).mean().item()

    base = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]}, "encoder": "l2",
            "dtype": "float32"}
    divfree = {"output": {"family": "RT", "degree": 2}, "decoder": {"kind": "divergence_free", "no_flux": True}}
    models = {
        "spon_mg_divfree": ({**divfree, "processor": spon_baseline.mg()}, T, RT),
        "spon_graph_divfree": ({**divfree, "processor": dict(spon_baseline.GRAPH)}, T, RT),
        "spon_mg_vector": ({"output": {"family": "CG", "degree": 2, "shape": [2]},
                            "decoder": {"kind": "dirichlet", "value": 0.0}, "processor": spon_baseline.mg()}, Y, V),
        "fno": (None, Y, V),
        "least_squares": ("least_squares", Y, V),
    }
    sec = {"problem": prob.metadata(), "velocity_dofs": V.dim(), "rt2_dofs": RT.dim(), "data_seconds": data_seconds,
           "n_train": a.n_train, "n_test": a.n_test, "epochs": a.epochs, "seeds": a.seeds,
           "metric": "relative L2 distance to the Taylor-Hood velocity; max_divergence = max ||div u|| / ||u||; "
                     "max_boundary_error = max ||u.n||_L2(boundary) (divergence-free decoders, no flux by "
                     "construction) or max ||u||_L2(boundary) (vector decoder, no slip by construction); models "
                     "train in float32 and are evaluated with their weights cast to float64 (max_divergence_float32: "
                     "evaluated in float32)",
           "recipe": spon_baseline.RECIPE, "runs": {}}
    th_div = []
    for i in range(a.n_test):
        uth.dat.data[:] = Y[i].reshape(-1, 2).numpy()
        th_div.append(fd.norm(fd.div(uth)) / fd.norm(uth))
    sec["taylor_hood_max_divergence"] = float(np.max(th_div))
    S1, S2 = fd.FunctionSpace(mesh, "CG", 1), fd.FunctionSpace(mesh, "CG", 2)
    grid_in, grid_out = GridTransfer(S1, S2, n=a.grid), GridTransfer(S2, n=a.grid)
    sec["grid"], sec["data_path"] = a.grid, data_path_check(grid_in)
    Xtr, Xte = X[a.n_test:a.n_test + a.n_train], X[:a.n_test]
    kinds = a.stokes_models.split(",")
    if "spon_linear_divfree_physics" in kinds:
        kinds.remove("spon_linear_divfree_physics")
        r = linear_divfree_physics(a, {**base, **divfree}, prob, X, score)
        sec["runs"]["spon_linear_divfree_physics"] = [r]
        sec["spon_linear_divfree_physics"] = summary([r], "max_divergence")
        out["stokes_divfree"] = sec
    if "spon_linear_divfree" in kinds:
        kinds.remove("spon_linear_divfree")
        lin = linear_divfree(a, {**base, **divfree}, X, T, RT, sizes, score)
        sec["runs"]["spon_linear_divfree"] = lin.pop("runs")
        sec |= lin
        sec["spon_linear_divfree"] = summary(sec["runs"]["spon_linear_divfree"], "max_divergence")
    for kind in kinds:
        extra, target, space = models[kind]

        def make(seed, extra=extra):
            if extra == "least_squares":
                return LeastSquaresOperator()
            if extra is None:      # the FNO recipe: f on the grid in, [CG2]² values back at the nodes
                return fno.GridFNO(grid_in, seed=seed, c=2, grid_out=grid_out, **fno.SETTINGS["fno"])
            return spon_baseline.SPONModel({**base, **extra}, seed)

        def scores(m, space=space):
            if isinstance(m, (fno.GridFNO, LeastSquaresOperator)):
                rel, div, bnd = score(m.predict(Xte), space)
                extra = {"steps": m.steps, "best_epoch": m.history.get("best_epoch")} if hasattr(m, "steps") else {}
                return {"rel_l2": rel, "max_divergence": div, "max_boundary_error": bnd,
                        "max_divergence_float32": div, **extra}
            pred32 = m.predict(Xte)
            m.evaluate_in_float64 = True  # the trained weights in float64: the curl to float64 round-off
            rel, div, bnd = score(m.predict(Xte), space)
            return {"rel_l2": rel, "max_divergence": div, "max_boundary_error": bnd,
                    "max_divergence_float32": score(pred32, space)[1]}

        def fit(m, seed, kind=kind, target=target):
            Ttr = target[a.n_test:a.n_test + a.n_train]
            if kind == "fno":     # best epoch on the validation split, in the FE L2 norm of the velocity
                m.fit(Xtr, Ttr, a.epochs, desc=f"{kind} seed {seed}",
                      val=(X[-a.n_val:], Y[-a.n_val:], score_val))
                m.steps = a.epochs * -(-a.n_train // 20)
                return m
            return m.fit(Xtr, Ttr, a.epochs, desc=f"{kind} seed {seed}")

        runs = run_seeds(kind, seeds_of(kind, a), make, fit, scores)
        for r in runs:
            r["n_train"] = a.n_train
        sec["runs"][kind], sec[kind] = runs, summary(runs, "max_divergence", "max_divergence_float32")
        out["stokes_divfree"] = sec
    if "spon_mg_divfree" in sec:
        sec["max_divergence"] = sec["spon_mg_divfree"]["max_divergence"]
        sec["target"] = {"divergence_at_round_off": sec["max_divergence"] < 1e-10}
    if "spon_linear_divfree" in sec:
        r = sec["spon_linear_divfree"]
        sec["target"] = {**sec.get("target", {}), "best_spon": "spon_linear_divfree", "rel_l2": r["rel_l2"],
                         "n_train": sec["runs"]["spon_linear_divfree"][0]["n_train"], "rel_l2_at_most": 0.05,
                         "max_divergence": r["max_divergence"],
                         "met": r["rel_l2"] <= 0.05 and r["max_divergence"] <= 1e-9}
    return sec


def linear_divfree(a, spec, X, T, RT, sizes, score):
    """SPON, curl decoder, affine processor fitted in closed form, for each training size."""
    from spon.fem import assembly
    from spon.models import build_spon

    import time as _time
    M = assembly.mass_matrix(RT).to_dense()
    Xte, Xv, Tv = X[:a.n_test], X[-a.n_val:], T[-a.n_val:]
    out, runs = {"curl_decoder_floor": None, "spon_linear_divfree_curve": {}}, []
    for k in sizes:
        t0 = _time.perf_counter()
        m = build_spon({**spec, "processor": {"kind": "mlp", "depth": 0, "width": 1}, "dtype": "float64"})
        dec, enc = m.decoder, m.encoder
        with torch.no_grad():
            Dm = dec(torch.eye(dec.in_dim, dtype=torch.float64)).reshape(dec.in_dim, -1)   # ψ DOFs -> RT2
            G = Dm @ M @ Dm.T
            lam, Q = torch.linalg.eigh(G)
            keep = lam > lam.max() * 1e-12                   # the held ψ DOFs map to nothing
            Gp = Q[:, keep] @ torch.diag(1 / lam[keep]) @ Q[:, keep].T

            def psi(Tr):           # the decoder's best stream function for each target row
                return Tr @ M @ Dm.T @ Gp
            Xtr, Ttr = X[a.n_test:a.n_test + k], T[a.n_test:a.n_test + k]
            Z, Zv = enc(Xtr).reshape(k, -1), enc(Xv).reshape(len(Xv), -1)
            ls = LeastSquaresOperator().fit(Z, psi(Ttr), val=(Zv, psi(Tv)))
            lin = m.processor.net[0]
            lin.weight.copy_(ls.W.T)
            lin.bias.copy_(ls.ym - ls.xm @ ls.W)
            m.input_scale.fill_(1.0)
            m.output_scale.fill_(1.0)
            if out["curl_decoder_floor"] is None:
                floor = score(psi(T[:a.n_test]) @ Dm, RT)
                out["curl_decoder_floor"] = {"rel_l2": floor[0], "max_divergence": floor[1],
                                             "note": "the decoder's best stream function for each test target: "
                                                     "no model can be closer to Taylor-Hood through this decoder"}
            rel, div, bnd = score(m(Xte).reshape(len(Xte), -1), RT)
        r = {"rel_l2": rel, "max_divergence": div, "max_boundary_error": bnd, "n_train": k, "alpha": ls.alpha,
             "train_seconds": _time.perf_counter() - t0, "params": sum(p.numel() for p in m.parameters())}
        out["spon_linear_divfree_curve"][str(k)] = r
        print("spon_linear_divfree", r, flush=True)
    runs.append(r)               # the table's row: the largest size
    out["runs"] = runs
    return out


def linear_divfree_physics(a, spec, prob, X, score):
    """SPON, curl decoder into RT_k, least-squares processor fitted on the Stokes energy alone: for a
    linear processor and a quadratic energy, the minimiser of the summed energy over unlabelled forces is
    the ridge fit to each force's energy minimiser (:meth:`spon.physics.StokesEnergy.minimiser`, the
    H(div) interior-penalty solution); α on a validation pool of forces, by their energy. No Taylor–Hood
    solution is used except to score the test set."""
    import time as _time

    from spon.models import build_spon
    from spon.physics import StokesEnergy
    from spon.training.closed_form import ALPHAS

    t0 = _time.perf_counter()
    k = a.physics_degree
    n = a.physics_pool
    m = build_spon({**spec, "output": {"family": "RT", "degree": k}, "dtype": "float64",
                    "processor": {"kind": "least_squares", "rank": n}})
    dec, enc, proc = m.decoder, m.encoder, m.processor
    RT = dec.V
    F = prob.sample_inputs(n + a.n_val, seed=20_000).reshape(n + a.n_val, -1)     # unlabelled, no solves
    energy = StokesEnergy(RT, prob.input_space)
    with torch.no_grad():
        Dm = dec(torch.eye(dec.in_dim, dtype=torch.float64)).reshape(dec.in_dim, -1)
        psi = energy.minimiser(Dm, F)
        Z = enc(F).reshape(len(F), -1)
        m.input_scale.fill_(1.0)
        m.output_scale.fill_(1.0)
        scores = {}
        for alpha in ALPHAS:
            proc.fit(Z[:n], psi[:n], alpha)
            scores[alpha] = energy(proc(Z[n:]) @ Dm, F[n:]).mean().item()     # lower energy: closer to the minimiser
        alpha = min(scores, key=scores.get)
        proc.fit(Z[:n], psi[:n], alpha)
        rel, div, bnd = score(m(X[:a.n_test]).reshape(a.n_test, -1), RT)
    r = {"rel_l2": rel, "max_divergence": div, "max_boundary_error": bnd, "n_train": 0, "unlabelled_forces": n,
         "alpha": alpha, "rt_degree": k, "modes": proc.modes, "train_seconds": _time.perf_counter() - t0,
         "params": sum(p.numel() for p in m.parameters())}
    print("spon_linear_divfree_physics", r, flush=True)
    return r


main = section_main("stokes_divfree", add_arguments, run, __doc__)
