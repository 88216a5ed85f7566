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
        for model in ("spon_mg", "fno"):
            r = sec[model]
            et = r["equal_time"]
            rows.append(f"| {label} | {model} | {_pm(r['rel_l2_mean'], r['rel_l2_std'])} "
                        f"| {_pm(et['rel_l2_mean'], et['rel_l2_std'])} ({min(et['epochs'])}–{max(et['epochs'])} ep.) "
                        f"| {r['params']:,} | {r['train_seconds']:.0f} | {r['max_boundary_error']:.1e} "
                        f"| {r['hyperparameters']} |")
        ratio = sec["spon_mg_over_fno"]
        rows.append(f"| {label} | SPON-MG / FNO | {ratio['equal_epochs']:.2f} | {ratio['equal_time']:.2f} | | | | |")
    out = "\n".join(rows)
    if "data_size_curve" in d:
        c = d["data_size_curve"]
        out += "\n\n| training samples | " + " | ".join(map(str, c["sizes"])) + " |\n"
        out += "|---|" + "---|" * len(c["sizes"]) + "\n"
        for model in ("spon_mg", "fno"):
            out += f"| {model} | " + " | ".join(
                _pm(c[model][str(n)]["rel_l2_mean"], c[model][str(n)]["rel_l2_std"]) for n in c["sizes"]) + " |\n"
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


def main():
    for name, fn in (("darcy", darcy), ("fe2", fe2), ("datagen", datagen), ("dns", dns)):
        path = RESULTS / f"{name}.json"
        if path.exists():
            print(f"### {name}\n\n{fn(json.loads(path.read_text()))}\n")


if __name__ == "__main__":
    main()
