"""Render the demos as tutorial pages: run each with small settings, keep its figures.

Writes ``doc/tutorials/<demo>.rst`` (the demo's docstring, its printed output,
its figures and its source) and the figures under ``doc/_generated/<demo>/``.
"""
import contextlib
import importlib.util
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")
DOC = Path(__file__).resolve().parent
DEMOS = DOC.parent / "demos"

# (demo, title, small arguments for the docs build)
TUTORIALS = [
    ("poisson_mlp", "FE maps and exact structure: encode, MLP, decode",
     ["--h", "0.1", "--n-train", "100", "--n-test", "20", "--epochs", "200", "--width", "128"]),
    ("divergence_free", "A divergence-free output", ["--h", "0.08"]),
    ("darcy_mg", "SPON-MG on Darcy (and the multigrid hierarchy)",
     ["--h", "0.2", "--n-train", "48", "--n-test", "8", "--epochs", "6", "--width", "16"]),
    ("physics_darcy", "Physics-informed training",
     ["--h", "0.3", "--n-train", "24", "--n-test", "6", "--epochs", "4", "--labelled", "6"]),
    ("inverse_conductivity", "The inverse conductivity problem", ["--h", "0.1", "--iterations", "15"]),
    ("rve_homogenisation", "Periodic RVE homogenisation with a consistent tangent", ["--h", "0.1"]),
    ("equino_training", "EquiNO: a physics-informed RVE surrogate",
     ["--h", "0.1", "--train", "30", "--test", "10", "--adam", "300", "--lbfgs", "50", "--mlp-steps", "300",
      "--mlp-lbfgs", "50", "--mlp-folds", "2"]),
    ("fe2_cook", "FE² on Cook's membrane: surrogate against reference",
     ["--rve-h", "0.1", "--macro-h", "24", "--steps", "2", "--displacement", "1.0", "--adam", "300",
      "--lbfgs", "50"]),
]


def render(name, title, args):
    out = DOC / "_generated" / name
    out.mkdir(parents=True, exist_ok=True)
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        mod.main(args + ["--out", str(out)])
    figures = sorted(out.glob("*.png"))
    lines = [title, "=" * len(title), "", mod.__doc__.strip(), "",
             "This page ran the demo with small settings for the documentation::", "",
             f"    python demos/{name}.py {' '.join(args)}", "", "Output", "------", "", "::", ""]
    lines += ["    " + ln for ln in buf.getvalue().strip().splitlines()] + [""]
    lines += ["Figures", "-------", ""]
    for fig in figures:
        lines += [f".. image:: /_generated/{name}/{fig.name}", "   :width: 100%", ""]
    lines += ["Source", "------", "", f".. literalinclude:: ../../demos/{name}.py", "   :language: python", ""]
    (DOC / "tutorials" / f"{name}.rst").write_text("\n".join(lines))
    print(f"{name}: {len(figures)} figure(s)")


def main():
    (DOC / "tutorials").mkdir(exist_ok=True)
    only = sys.argv[1:]
    for name, title, args in TUTORIALS:
        if not only or name in only:
            render(name, title, args)
    index = ["Tutorials", "=========", "", "Each tutorial is a script in ``demos/``, run when the docs are built.",
             "",
             ".. toctree::", "   :maxdepth: 1", ""] + [f"   {name}" for name, _, _ in TUTORIALS]
    (DOC / "tutorials" / "index.rst").write_text("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
