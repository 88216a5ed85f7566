"""Print the README's results tables (markdown) from ``benchmarks/results/*.json``.

    python benchmarks/table.py
"""
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _pm(m, s, digits=3):
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def darcy(d):
    rows = ["| domain | model | rel. L² error, equal epochs | equal wall-clock | params | train s | max BC error "
            "| hyperparameters |", "|---|---|---|---|---|---|---|---|"]
    for name in ("square", "nonsquare"):
        if name not in d:
            continue
        sec = d[name]
        dom = sec["domain"]
        label = f"{dom['mesh']['source']} ({dom['dofs']} DOFs, FNO grid {dom['grid']}²)"
        rows.append(f"| {label} | zero (no model) | 1 (by definition) | | — | 0 | — | |")
        for model in ("spon_mg", "fno"):
            r = sec[model]
            et = r["equal_time"]
            rows.append(f"| {label} | {model} | {_pm(r['rel_l2_mean'], r['rel_l2_std'])} "
                        f"| {_pm(et['rel_l2_mean'], et['rel_l2_std'])} ({min(et['epochs'])}–{max(et['epochs'])} ep.) "
                        f"| {r['params']:,} | {r['train_seconds']:.0f} | {r['max_boundary_error']:.1e} "
                        f"| {r['hyperparameters']} |")
        if "least_squares" in sec:
            r = sec["least_squares"]
            rows.append(f"| {label} | least squares (no network) | {r['rel_l2']:.3f} | | — | {r['train_seconds']:.0f} "
                        f"| {r['max_boundary_error']:.1e} | α {r['alpha']:.0e} (validation) |")
        ratio = sec["spon_mg_over_fno"]
        rows.append(f"| {label} | SPON-MG / FNO | {ratio['equal_epochs']:.2f} | {ratio['equal_time']:.2f} | | | | |")
        for key, what in (("richardson", "Richardson, Laplace-preconditioned (no learning)"),
                          ("chebyshev", "Chebyshev, Laplace-preconditioned (no learning)")):
            if key in sec:
                rows.append(f"| {label} | {sec[key]['steps']} steps of {what} | {sec[key]['rel_l2']:.4f} | | — | 0 "
                            "| 0.0e+00 | |")
        if "spon_picard" in sec:
            r = sec["spon_picard"]
            rows.append(f"| {label} | SPON-Picard ({r['iterations']} learned steps, {r['optimiser_steps']} optimiser "
                        f"steps) | {_pm(r['rel_l2_mean'], r['rel_l2_std'], 4)} | | {r['params']:,} "
                        f"| {r['train_seconds']:.0f} | {r['max_boundary_error']:.1e} | |")
            rows.append(f"| {label} | SPON-Picard / FNO | {sec['spon_picard_over_fno']:.3f} | | | | | |")
        for key, what in (("fno_long", "FNO"), ("spon_picard_long", "SPON-Picard")):
            if key in sec:
                r = sec[key]
                spread = max((hi - lo) / lo for lo, hi in r["val_last_10pct"])
                rows.append(f"| {label} | {what}, {r['optimiser_steps']} optimiser steps (best validation epoch "
                            f"{min(r['best_epochs'])}–{max(r['best_epochs'])} of {r['epochs']}; validation spread over "
                            f"the last 10 %: {spread:.1%}) | {_pm(r['rel_l2_mean'], r['rel_l2_std'], 4)} | "
                            f"| {sec[key.removesuffix('_long')]['params']:,} | {r['train_seconds']:.0f} "
                            f"| {r['max_boundary_error']:.1e} | |")
        if "fno_long" in sec and "spon_picard_long" in sec:
            rows.append(f"| {label} | SPON-Picard / FNO at equal steps, both converged | "
                        f"{sec['spon_picard_long']['rel_l2_mean'] / sec['fno_long']['rel_l2_mean']:.3f} | | | | | |")
    out = "\n".join(rows)
    if "data_size_curve" in d:
        c = d["data_size_curve"]
        out += "\n\n| training samples | " + " | ".join(map(str, c["sizes"])) + " |\n"
        out += "|---|" + "---|" * len(c["sizes"]) + "\n"
        for model in ("spon_mg", "fno", "spon_picard"):
            if model not in c:
                continue
            out += f"| {model} | " + " | ".join(
                _pm(c[model][str(n)]["rel_l2_mean"], c[model][str(n)]["rel_l2_std"], 4 if model == "spon_picard" else 3)
                for n in c["sizes"]) + " |\n"
        out += "| SPON-MG / FNO | " + " | ".join(
            f"{c['spon_mg'][str(n)]['rel_l2_mean'] / c['fno'][str(n)]['rel_l2_mean']:.2f}" for n in c["sizes"]) + " |\n"
        out += f"\nseeds {c['seeds']}; budget: {c['budget']}"
    return out


def fe2(d):
    rows = ["| surrogate | train s | held-out σ̄ | held-out C̄ | reaction error per load step | σ̄ field (last step) |",
            "|---|---|---|---|---|---|"]
    for name in ("equino", "mlp"):
        r = d[name]
        steps = ", ".join(f"{100 * e:.2f} %" for e in r["reaction_rel_err_per_step"])
        held = d["errors_held_out"][name]
        held = held.get("mean", held)   # {"median", "mean"} since 2026-11-30
        rows.append(f"| {name} | {d['training_seconds'][f'train_{name}']:.0f} | {100 * held['sigma_bar']:.2f} % "
                    f"| {100 * held['tangent']:.2f} % | {steps} | {100 * r['stress_field_rel_l2']:.2f} % |")
    return "\n".join(rows)


def datagen(d):
    rows = ["| case | DOFs | spon per sample | naive per sample | speed-up |", "|---|---|---|---|---|"]
    n = d["settings"]["n"]
    for k in ("darcy_mg", "darcy_amg", "darcy", "poisson"):
        if k in d:
            r = d[k]
            rows.append(f"| {k} {r['params'] or ''} | {r['dofs']} | {r['reuse_seconds'] / n * 1e3:.1f} ms "
                        f"| {r['naive_seconds'] / n * 1e3:.1f} ms | {r['speedup']:.1f}× |")
    return "\n".join(rows)


def dns(d):
    rows = ["| N | DNS DOFs | DNS s | reference FE² | EquiNO-FE² | MLP-FE² |", "|---:|---:|---:|---:|---:|---:|"]
    for n, r in d["dns"].items():
        rows.append(f"| {n} | {r['dofs']:,} | {r['seconds']:.0f} | " + " | ".join(
            f"{100 * r[f'{k}_fe2_rel_err_final']:.2f} %" for k in ("reference", "equino", "mlp")) + " |")
    return "\n".join(rows)


_LABELS = {"spon_mg": "SPON-MG", "spon_mg_vcycle": "SPON-MG",
           "spon_ls_leapfrog": "SPON, least-squares processor in the leapfrog (closed form, no network)",
           "least_squares_leapfrog": "least squares on the DOFs, leapfrog (second differences), no network",
           "least_squares_n800": "least squares on the DOFs (ridge, α on validation), no network",
           "fno_n800": "FNO (masked grid), best validation epoch",
           "spon_linear_divfree_physics": "SPON, curl decoder into RT3, least-squares processor fitted on the Stokes "
                                          "energy of 1 000 unlabelled forces (no labels)",
           "spon_linear_divfree_physics_rt2": "the same into RT2 (the section's decoder)",
           "spon_picard_physics_compliance": "SPON-Picard, potential energy only, each load's energy over its "
                                             "linear elastic work",
           "spon_picard_long": "SPON-Picard: linear-elastic encoder, learned Picard iteration (2 steps), data, "
                               "twice the steps",
           "spon_picard_physics_compliance_long": "SPON-Picard, potential energy only, each load's energy over its "
                                                  "linear elastic work, 4 000 steps",
           "spon_picard_hybrid_compliance": "SPON-Picard, hybrid, the energy over each load's linear elastic work",
           "spon_mg_green": "SPON-MG, linear-elasticity Green decoder, identity skip",
           "spon_mg_linear": "SPON-MG, linear-elastic encoder, identity skip", "spon_graph": "SPON-graph",
           "spon_mg_force": "SPON-MG, (force, linear displacement) encoder, Green decoder: a force correction",
           "fno": "FNO (masked grid)", "fno_linear": "FNO, linear elastic displacement in",
           "spon_mg_divfree": "SPON-MG, curl decoder into RT2", "spon_graph_divfree": "SPON-graph, curl decoder",
           "spon_mg_vector": "SPON-MG, unconstrained [CG2]²", "spon_mg_mixed": "SPON-MG on Taylor–Hood (u, p)",
           "spon_mg_increment": "SPON-MG, learns the increment u_n+k − u_n",
           "spon_mg_unrolled": "SPON-MG increment map, trained with input noise and pushforward steps",
           "spon_mg_leapfrog": "SPON-MG, second-order (leapfrog) map: learns u_n+k − 2u_n + u_n−k",
           "fno_leapfrog": "FNO (masked grid), second-order (leapfrog) map",
           "linear_leapfrog": "linear second-order map a = −λ(u − c), least squares, no network",
           "least_squares": "least squares on the DOFs (ridge, α on validation), no network",
           "spon_linear_divfree": "SPON, curl decoder into RT2, linear processor fitted in closed form",
           "spon_picard_onecycle": "SPON-Picard with SPON's recipe (one-cycle AdamW), data",
           "spon_picard_physics_onecycle": "SPON-Picard, potential energy only, SPON's recipe (one-cycle AdamW)",
           ("poisson3d", "spon_picard"): "SPON-Picard: learned polynomial iteration (4 Laplace-preconditioned steps)",
           "spon_picard": "SPON-Picard: linear-elastic encoder, learned Picard iteration (2 steps), data",
           "spon_picard_physics": "SPON-Picard, potential energy only (random forces, no labels, no solves)",
           "spon_picard_hybrid": "SPON-Picard, hybrid (labelled pairs + potential energy)"}


def _st(st, sd):
    """A Strouhal error (and its std) in per cent; tiny ones in e-notation."""
    if st < 1e-3:
        return f"{100 * st:.0e}{'' if sd is None else f' ± {100 * sd:.0e}'} %"
    return f"{100 * st:.1f}{'' if sd is None else f' ± {100 * sd:.1f}'} %"


def spon_paper(d):
    """One row per model: relative L² (mean ± std over its seeds) and the structure errors."""
    rows = ["| problem | model | seeds | relative L² | max boundary error | other |", "|---|---|---|---|---|---|"]
    sections = {"hyperelasticity": "neo-Hookean Cook's membrane", "stokes_divfree": "Stokes, Taylor–Hood truth",
                "poisson3d": "3D Poisson, cube with a hole", "navier_stokes_steady": "steady Navier–Stokes, Re 5–40",
                "navier_stokes_rollout": "DFG 2D-2 rollout"}
    for name, label in sections.items():
        sec = d.get(name)
        if not sec:
            continue
        rows.append(f"| {label} | zero (no model) | — | 1 (by definition) | — | |")
        for base, note in (("linear_elasticity_prediction", "linear elasticity, no learning"),
                           ("stokes_as_prediction", "the Stokes input, no learning"),
                           ("chebyshev", "4 Chebyshev steps, Laplace-preconditioned (SPON-Picard untrained)")):
            if base in sec:
                v = sec[base]["rel_l2"]
                rows.append(f"| {label} | {note} | — | {v:.{4 if v < 0.01 else 3}f} | — | |")
        if "picard_exact" in sec:
            e = sec["picard_exact"]
            rows.append(f"| {label} | modified Newton from linear elasticity (the true stress), no learning | — "
                        f"| {e['rel_l2_1_steps']:.3f} (1 step), {e['rel_l2_2_steps']:.3f} (2 steps) | — | |")
        for model, runs in sec.get("runs", {}).items():
            r = sec[model]
            std = r.get("rel_l2_std")
            other = []
            if "epochs" in runs[0]:      # where a section's models train for different lengths
                other.append(f"{runs[0]['epochs']} epochs")
            if runs[0].get("unlabelled_forces"):
                other.append(f"{runs[0]['unlabelled_forces']} unlabelled forces, 0 labels")
            elif "n_train" in runs[0]:
                other.append(f"{runs[0]['n_train']} training samples")
            if "steps" in runs[0]:
                other.append(f"{runs[0]['steps']} optimiser steps")
            if runs[0].get("best_epoch") is not None:
                other.append("best validation epoch " + ", ".join(str(x["best_epoch"]) for x in runs))
            if "max_divergence" in r:
                other.append(f"max div/‖u‖ {r['max_divergence']:.1e}")
            if r.get("pressure_rel_l2") is not None:
                other.append(f"pressure {r['pressure_rel_l2']:.3f}")
            if r.get("rel_l2_two_periods") is not None:
                v, sd = r["rel_l2_two_periods"], r.get("rel_l2_two_periods_std")
                other.append(f"first two periods {_small(v)}{'' if sd is None else f' ± {_small(sd, 1)}'}")
            if "strouhal_rel_err_mean" in r:
                st, sd = r["strouhal_rel_err_mean"], r.get("strouhal_rel_err_std")
                grew = st is None and r["rel_l2"] > 10        # the rollout blew up rather than settled
                other.append(("grew without bound" if grew else "no oscillation left") if st is None else
                             f"Strouhal error {_st(st, sd)}")
                if r.get("strouhal_from_lift_rel_err_mean") is not None:
                    st, sd = r["strouhal_from_lift_rel_err_mean"], r.get("strouhal_from_lift_rel_err_std")
                    other.append(f"from the lift {_st(st, sd)}")
            # no seed: nothing random (no network)
            seeds = (f"{len(runs)} windows" if runs[0].get("offset") is not None else
                     len(runs) if "seed" in runs[0] and not model.startswith("least_squares") else "—")
            name_ = _LABELS.get((name, model), _LABELS.get(model, model))
            dg = 4 if r["rel_l2"] < 0.01 else 3
            rel = (f"{r['rel_l2']:.1e}{'' if std is None else f' ± {std:.0e}'}" if r["rel_l2"] < 1e-3 else
                   f"{r['rel_l2']:.{dg}f}{'' if std is None else f' ± {std:.{dg}f}'}")
            rows.append(f"| {label} | {name_} | {seeds} | "
                        f"{rel} | {r['max_boundary_error']:.0e} "
                        f"| {'; '.join(other)} |")
    curve = d.get("navier_stokes_rollout", {}).get("spon_ls_leapfrog_window_curve")
    if curve:
        rows += ["", "| rollout: training window (states) | " + " | ".join(str(c["window"]) for c in curve) + " |",
                 "|---|" + "---|" * len(curve),
                 "| shedding periods in it | " + " | ".join(f"{c['periods_in_window']:.2f}" for c in curve) + " |",
                 "| SPON least-squares leapfrog, two-period error | "
                 + " | ".join(_small(c["rel_l2_two_periods"]) if c["rel_l2_two_periods"] < 1 else
                              f"{c['rel_l2_two_periods']:.1f}" for c in curve) + " |"]
    return "\n".join(rows)


_VARIANTS = {"offset": "offset, plain POD (before)", "offset_anchors": "offset, anchors",
             "secant": "secant, plain POD", "secant_anchors": "**secant, anchors (default)**"}


def equino_small_strain(d):
    """EquiNO's 2 x 2 of coefficient form and POD anchors, mean ± std over the network seeds."""
    rows = ["| variant | modes (u + σ) | σ̄ box | σ̄ small | bias small | reaction, step 1 | step 2 | floor (small) |",
            "|---|---|---|---|---|---|---|---|"]
    for name, label in _VARIANTS.items():
        v = d["variants"].get(name)
        if v is None:
            continue
        s = v["summary"]

        def pct(k):
            return f"{100 * s[k]['mean']:.2f} ± {100 * s[k]['std']:.2f} %"
        r = s["reaction_rel_err"]
        steps = [f"{100 * m:.2f} ± {100 * sd:.2f} %" for m, sd in zip(r["mean"], r["std"])]
        if name == "secant_anchors":
            steps[0] = f"**{steps[0]}**"
        rows.append(f"| {label} | {v['modes']['u']} + {v['modes']['stress']} | {pct('sigma_bar_box')} "
                    f"| {pct('sigma_bar_small')} | {pct('bias_small')} | {' | '.join(steps)} "
                    f"| {100 * v['floor_small']['mean']:.3f} % |")
    return "\n".join(rows)


def scaling(d):
    """SPON-MG's cost against the mesh size, and two DDP ranks against one."""
    rows = ["| output DOFs | setup (hierarchy, transfers, graphs) | s / epoch / sample | cost per DOF vs 2k | "
            "peak memory |", "|---:|---:|---:|---:|---:|"]
    for r in d["sizes"]:
        t = r["seconds_per_epoch_per_sample"]
        rows.append(f"| {r['dofs']:,} | {r['setup_seconds']:.1f} s | {f'{t:.2g}' if t < 1 else f'{t:.2f}'} "
                    f"| {r['cost_per_dof_ratio']:.2f} | {r['peak_rss_mb'] / 1000:.1f} GB |".replace(",", " "))
    if d.get("ddp"):
        g = d["ddp"]
        rows.append(f"\ntwo gloo ranks against one: {g['ddp_two_rank_speedup']:.2f}× faster, weights after one "
                    f"epoch agree to {g['weights_rel_diff_after_one_epoch']:.1e} relative")
    return "\n".join(rows)


_ACCURACY = {"zero": "zero", "least_squares": "least squares on the DOFs (ridge, α on validation)",
             "linear_mg_untrained": "linear multigrid, operator inferred from the pairs (closed form, no "
                                    "optimiser step)",
             "linear_mg": "linear multigrid, operator inferred, smoothers trained on the labelled pairs",
             "linear_mg_physics": "linear multigrid, physics only: operator from K v (no labels, no solves), "
                                  "smoothers trained on the energy of fresh unlabelled inputs",
             "linear_mg_hybrid": "linear multigrid, hybrid (operator inferred; labelled pairs + energy)",
             "spon_mg": "SPON-MG (own recipe)", "spon_graph": "SPON-graph (own recipe)", "fno": "FNO (grid, own recipe)",
             "fno_2000_steps": "FNO (grid, own recipe), 8× the steps"}


def _small(x, digits=2):
    return f"{x:.4f}" if x >= 0.01 else f"{x:.{digits}e}"


def accuracy(d):
    """Source-to-solution maps: every model's relative L² (mean ± std over seeds), steps, the epoch
    chosen on validation and the validation curve's last 10 %, seconds, boundary error and, for linear
    models, the linearity error."""
    rows = ["| problem | model | seeds | relative L² | steps | best epoch (validation) | validation error's "
            "spread over the last 10 % of epochs | train s | max BC error | linearity error |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("poisson_source", "poisson_source_l_shape", "elasticity_source", "elasticity3d"):
        if name not in d:
            continue
        label = f"{name} ({d[name]['dofs']} DOFs, {d[name]['n_train']} training pairs)"
        for kind, r in d[name]["models"].items():
            std = f" ± {_small(r['rel_l2_std'], 1)}" if r["seeds"] > 1 else ""
            lin = f"{r['linearity_error']:.0e}" if "linearity_error" in r else "—"
            runs = r.get("runs", [])
            best = (", ".join(str(x.get("best_epoch")) for x in runs) + f" of {runs[0]['epochs']}"
                    if runs and runs[0].get("best_epoch") is not None else "—")
            tails = [x["val_last_10pct"] for x in runs if x.get("val_last_10pct") and x["val_last_10pct"][0] > 0]
            tail = f"{max((hi - lo) / lo for lo, hi in tails):.1%}" if tails else "—"
            rows.append(f"| {label} | {_ACCURACY.get(kind, kind)} | {r['seeds']} | {_small(r['rel_l2_mean'])}{std} "
                        f"| {r['steps']} | {best} | {tail} | {r['train_seconds']:.0f} | {r['max_boundary_error']:.0e} "
                        f"| {lin} |")
    curves = [n for n in ("poisson_source_curve", "poisson_source_l_shape_curve") if n in d]
    if curves:
        rows += ["", "| data-size curve | model | " + " | ".join(f"{k} pairs" for k in d[curves[0]]["sizes"]) + " |",
                 "|---|---|" + "---|" * len(d[curves[0]]["sizes"])]
        for name in curves:
            sizes = d[name]["sizes"]
            kinds = [k for k in next(iter(sizes.values()))]
            for kind in kinds:
                cells = []
                for k in sizes:
                    r = sizes[k].get(kind)
                    cells.append("" if r is None else f"{r['rel_l2_mean']:.2g}" +
                                 (f" ± {r['rel_l2_std']:.1g}" if r["seeds"] > 1 else ""))
                rows.append(f"| {name.removesuffix('_curve')} | {_ACCURACY.get(kind, kind)} | " + " | ".join(cells)
                            + " |")
    return "\n".join(rows)


def step_speed(d):
    """Training steps per second at equal DOFs, measured side by side in one process."""
    r = d["step_speed"]
    names = {"spon_mg_edge_messages": "SPON-MG before (message network on every edge)",
             "spon_mg": "SPON-MG now (message network after the mean, on the nodes)",
             "spon_mg_compiled": "SPON-MG now, compiled (Trainer(compile=True))",
             "linear_mg": "linear multigrid, 3 cycles", "fno": f"FNO, {r['fno_grid'][0]}² grid, batch 20"}
    rows = [f"| model ({r['dofs']} DOFs, float32) | steps/s | samples/s | vs SPON-MG before | parameters |",
            "|---|---:|---:|---:|---:|"]
    for k, v in r["steps_per_second"].items():
        rows.append(f"| {names.get(k, k)} | {v:.2f} | {r['samples_per_second'][k]:.0f} "
                    f"| {r['speedup_vs_before'][k]:.2f}× | {r['params'][k]:,} |".replace(",", " "))
    return "\n".join(rows)


_SURR = {"equino": "EquiNO (no stress labels)", "mlp": "P̄-MLP (P̄ labels)",
         "least_squares_deg1": "least squares, degree 1", "least_squares_deg2": "least squares, degree 2"}


def _pct(x, digits=2):
    return "—" if x is None else f"{100 * x:.{digits}f} %"


def _speed(sp):
    return "—" if sp is None else f"{sp['mean']:,.0f}×"


def _frame(x, small):
    return "— (small strain)" if small or x is None else f"{x:.0e}"


def _cell_rows(rows, comps, reaction=True, small=False):
    out = []
    for name, r in rows.items():
        med = " | ".join(_pm(100 * r["components_median"][c]["mean"], 100 * r["components_median"][c]["std"], 2)
                         for c in comps)
        line = (f"| {_SURR.get(name, name)} | {r['seeds']} | {_pm(100 * r['P_bar_median']['mean'], 100 * r['P_bar_median']['std'], 2)} "
                f"| {_pm(100 * r['P_bar_mean']['mean'], 100 * r['P_bar_mean']['std'], 2)} | {med} "
                f"| {_pm(100 * r['tangent_mean']['mean'], 100 * r['tangent_mean']['std'], 1)} "
                f"| {_frame(r['frame_indifference_error_max'], small)} |")
        if reaction:
            macro = r.get("macro", r)
            rr = macro.get("reaction_rel_err")
            sp = macro.get("speedup_per_newton_iteration")
            line += (f" {_pct(macro.get('reaction_rel_err_max'))} | "
                     + ("—" if rr is None else ", ".join(f"{100 * x:.2f}" for x in rr["mean"]))
                     + f" | {_speed(sp)} |")
        out.append(line)
    return out


def fe2_finite_strain(d):
    comps = list(next(iter(d["rows"].values()))["components_median"])
    head = ("| surrogate | seeds | P̄ error, median (%) | mean (%) | " + " | ".join(f"{c} median (%)" for c in comps)
            + " | tangent, mean (%) | frame indifference | reaction error, worst step | per step (%) "
            "| speed-up per Newton it. |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    rows += _cell_rows(d["rows"], comps)
    m = d["macro"]
    rows.append(f"| reference FE² ({d['rve']['micro_dofs']:,} micro DOFs × {m['quadrature_points']} points) | | | | "
                + " | " * len(comps) + f" | {d['cell_problem_frame_indifference_error']:.0e} | reactions "
                + ", ".join(f"{x:.0f}" for x in m["reference_reaction"])
                + f" | Newton {m['reference_newton_iterations']} | {m['reference_material_seconds_per_newton_iteration']:.1f} s/it. |")
    return "\n".join(rows)


def fe2_3d(d):
    out = []
    for key, title in (("cell_finite_strain", "finite strain"), ("cell_small_strain", "small strain")):
        if key not in d:
            continue
        c = d[key]
        comps = list(next(iter(c["rows"].values()))["components_median"])
        comps = [x for x in comps if x in ("P_xx", "P_yy", "P_zz", "P_xy", "P_yz", "P_xz")]   # σ̄ or P̄
        head = (f"| {title}, {c['micro_dofs']:,} micro DOFs | seeds | error, median (%) | mean (%) | "
                + " | ".join(f"{x} median (%)" for x in comps) + " | tangent, mean (%) | frame indifference |")
        out += [head, "|" + "---|" * (head.count("|") - 1)] + _cell_rows(c["rows"], comps, reaction=False,
                                                                         small=key == "cell_small_strain") + [""]
    if "fe2_bar" in d:
        b = d["fe2_bar"]
        out.append(f"| 3D FE², bent bar ({b['macro']['quadrature_points']} points × {b['rve']['micro_dofs']:,} micro "
                   "DOFs) | seeds | P̄ error on the cell, mean (%) | reaction error, worst step | speed-up per Newton it. |")
        out.append("|---|---|---|---|---|")
        for name, r in b["rows"].items():
            mac = r.get("macro", {})
            sp = mac.get("speedup_per_newton_iteration")
            out.append(f"| {_SURR.get(name, name)} | {r['seeds']} | {_pm(100 * r['P_bar_mean']['mean'], 100 * r['P_bar_mean']['std'], 2)} "
                       f"| {_pct(mac.get('reaction_rel_err_max'))} | {_speed(sp)} |")
        ref = b["reference"]
        for n, r in sorted(ref.items()):
            out.append(f"| reference FE², {n} rank(s) | | | {r['seconds']:.0f} s, Newton {r['newton_iterations']} | |")
    return "\n".join(out)


def dns_finite_strain(d):
    rows = ["| N | DNS DOFs | DNS s | reference FE² gap |", "|---:|---:|---:|---:|"]
    for n, r in d["dns"].items():
        rows.append(f"| {n} | {r['dofs']:,} | {r['seconds']:.0f} | {100 * r['fe2_rel_err_final']:.2f} % |")
    return "\n".join(rows)


def main():
    for name, fn in (("darcy", darcy), ("fe2", fe2), ("datagen", datagen), ("dns", dns),
                     ("spon_paper", spon_paper), ("equino_small_strain", equino_small_strain),
                     ("scaling", scaling), ("accuracy", accuracy), ("step_speed", step_speed),
                     ("fe2_finite_strain", fe2_finite_strain), ("fe2_3d", fe2_3d),
                     ("dns_finite_strain", dns_finite_strain)):
        path = RESULTS / f"{name}.json"
        if path.exists():
            print(f"### {name}\n\n{fn(json.loads(path.read_text()))}\n")


if __name__ == "__main__":
    main()
