"""Figures of the Navier–Stokes sections of ``benchmarks/results/spon_paper.json``.

Writes ``benchmarks/results/figures/navier_stokes_rollout.png``: the FE lift and
drag of the recorded shedding, the rollouts' lift (from their velocities, with
the pressure fitted to them) beside the FE lift, the wake probe's cross-stream
velocity of the FE solution against each learned rollout, and the rollouts'
relative L² error over time. Reads the JSON only (no Firedrake)::

    python benchmarks/plot_navier_stokes.py
"""
import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=HERE / "results" / "spon_paper.json")
    p.add_argument("--out", type=Path, default=HERE / "results" / "figures")
    a = p.parse_args()
    sec = json.loads(a.results.read_text()).get("navier_stokes_rollout")
    if sec is None:
        raise SystemExit(f"--results: {a.results} holds no navier_stokes_rollout section "
                         "(run python -m benchmarks run navier_stokes_rollout)")
    fe = sec["fe_solver_on_this_mesh"]
    t_rec, t = sec["fe_lift"]["t"], sec["t_rollout"]
    t_train_end = t_rec[sec["training_window_steps"] - 1]
    fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    axes[0].plot(t_rec, sec["fe_lift"]["cl"], label="$C_L$ (FE)")
    axes[0].plot(t_rec, [c - 3 for c in sec["fe_lift"]["cd"]], label="$C_D - 3$ (FE)")
    axes[0].set_title(f"DFG 2D-2 on {sec['mixed_dofs']} DOFs: FE St = {fe['strouhal_from_lift']:.3f}, "
                      f"max $C_L$ = {fe['cl_max']:.3f} (published 0.30 and 1.0)")
    if "fe_cl_at_rollout_times" in sec:
        axes[1].plot(t, sec["fe_cl_at_rollout_times"], "k", lw=2, label="FE")
    axes[2].plot(t, sec["fe_probe_v"], "k", lw=2, label="FE")
    for i, (kind, runs) in enumerate(sec["runs"].items()):
        color = f"C{i}"          # one colour a model on every panel
        st = runs[0]["strouhal"]
        label = f"{kind} rollout (St {st:.3f})" if st is not None else f"{kind} rollout (no oscillation)"
        if "cl_from_velocity" in runs[0]:
            axes[1].plot(t, runs[0]["cl_from_velocity"], color=color, label=kind)
        axes[2].plot(t, runs[0]["probe_v"], color=color, label=label)
        axes[3].plot(t, runs[0]["rel_l2_over_time"], color=color, label=kind)
    axes[1].set_title("$C_L$ of the rollouts (first seed of each), from their velocities with the best-fit "
                      "pressure")
    axes[2].set_title(f"cross-stream velocity at the probe {tuple(round(x, 2) for x in sec['probe'])}")
    axes[3].set_title("relative $L^2$ error of the rolled-out velocity")
    axes[3].set_xlabel("t")
    axes[3].set_yscale("log")
    for ax, fe_signal in ((axes[1], sec.get("fe_cl_at_rollout_times")), (axes[2], sec["fe_probe_v"])):
        if fe_signal:          # a rollout that blows up would hide the others
            top = 2.5 * max(abs(v) for v in fe_signal)
            ax.set_ylim(-top, top)
    for ax in axes:
        ax.axvline(t_train_end, color="grey", ls="--", lw=1)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].text(t_train_end, axes[0].get_ylim()[1], " end of the training window", va="top", fontsize=8)
    fig.tight_layout()
    a.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out / "navier_stokes_rollout.png", dpi=110)
    print(f"wrote {a.out / 'navier_stokes_rollout.png'}")


if __name__ == "__main__":
    main()
