"""The ``spon`` command line: demos, data generation, training, evaluation.

Every subcommand reads an optional config file (``--config``, TOML or JSON,
keys named like the long options with ``_`` for ``-``); flags given on the
command line override it. Outputs go to ``--out``, next to the resolved
config (``config.json``), so every result can be reproduced.

Exit codes: 0 success; 2 bad usage or input, found by the checks at this
boundary (options, config files, and loading the files the options name: a
dataset, checkpoint, mesh or surrogate); 1 any failure after that, while
running. Both print one line, no traceback (``SPON_DEBUG=1`` shows it).

Only the standard library is imported at start-up, so ``spon --help`` and
usage errors answer at once; Firedrake and torch load inside the commands.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import runpy
import sys
import tomllib
from pathlib import Path

from .atomic import atomic_path, atomic_write_json   # standard library only: help stays fast

__all__ = ["main"]

log = logging.getLogger("spon")

DEMOS_DIR = Path(__file__).resolve().parents[1] / "demos"
DEMOS = {
    "darcy_mg": "SPON-MG on Darcy flow: the flagship demo",
    "poisson_mlp": "encode-MLP-decode for Poisson with exact Dirichlet data",
    "physics_darcy": "physics-informed and hybrid training on Darcy",
    "hyperelasticity": "neo-Hookean Cook's membrane: SPON-MG with a linear-elasticity Green decoder",
    "navier_stokes_dfg": "Navier-Stokes past the DFG cylinder: drag and lift against Schaefer & Turek, shedding",
    "inverse_conductivity": "four inverse conductivity problems through Firedrake's adjoint",
    "divergence_free": "exactly divergence-free outputs: stream function into Raviart-Thomas",
    "rve_homogenisation": "periodic homogenisation of the three RVEs: fields, σ̄ and consistent tangent",
    "equino_training": "EquiNO surrogate trained without stress labels; per-field errors",
    "fe2_cook": "FE² on Cook's membrane: EquiNO inside the macro Newton solve vs reference FE²",
}

DEFAULTS = {
    "datagen": {"problem": "darcy", "mesh": "unit_square", "h": 0.1, "refinements": 2, "n": 100, "seed": 0,
                "pressure": False, "out": "results/datagen"},
    "train": {"data": None, "processor": "mg", "width": 24, "epochs": 30, "batch_size": 16, "lr": 3e-3,
              "test_fraction": 0.2, "seed": 0, "device": "cpu", "dtype": "float32", "out": "results/train",
              "resume": False, "nproc": 1, "num_workers": 0},
    "evaluate": {"checkpoint": None, "data": None, "out": "results/evaluate"},
    "fe2": {"material": "surrogate", "surrogate": "", "rve": "fibre", "materials": "", "rve_h": 0.05,
            "mesh": "cook_membrane", "h": 12.0, "degree": 2, "clamped": 1, "loaded": 2, "displacement": 2.0, "steps": 4,
            "nproc": 1, "out": "results/fe2"},
}


_ARGV: list = []   # this command line, for the ranks that `spon train --nproc N` starts


class UsageError(Exception):
    """Bad command-line use or input: exit code 2."""


@contextlib.contextmanager
def _input(option: str):
    """Errors while loading what ``option`` names are bad input (exit 2), not failures."""
    try:
        yield
    except UsageError:
        raise
    except (ValueError, TypeError, LookupError, OSError) as exc:
        raise UsageError(f"{option}: {exc}") from exc


def _save_figure(fig, path):
    import matplotlib.pyplot as plt

    with atomic_path(path, Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _parser():
    p = argparse.ArgumentParser(prog="spon", description="Structure-preserving neural operators on FE spaces.",
                                epilog="Each command has its own --help.")
    p.add_argument("--version", action="version", version=f"spon {_version()}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="run a demo", description="Run one of the demos in demos/. "
                       "Arguments after NAME go to the demo (see `spon demo NAME --help`).")
    d.add_argument("name", metavar="NAME", choices=sorted(DEMOS),
                   help="one of: " + "; ".join(f"{k} ({v})" for k, v in DEMOS.items()))
    d.add_argument("demo_args", nargs=argparse.REMAINDER, help="arguments passed on to the demo")

    S = argparse.SUPPRESS
    g = sub.add_parser("datagen", help="generate a dataset", argument_default=S,
                       description="Sample inputs, solve with Firedrake, write dataset.h5 to --out.")
    g.add_argument("--config", help="TOML or JSON file with any of the options below")
    g.add_argument("--problem", choices=["poisson", "darcy", "elasticity", "hyperelasticity", "stokes"],
                   help="PDE (default darcy)")
    g.add_argument("--pressure", action="store_true", help="stokes: write (u, p) on Taylor-Hood P2-P1, a mixed "
                   "dataset (default: the velocity only)")
    g.add_argument("--mesh", help="gmsh geometry: unit_square, l_shape, plate_with_hole or a .geo/.msh path "
                   "(default unit_square)")
    g.add_argument("--h", type=float, help="gmsh mesh size (default 0.1)")
    g.add_argument("--refinements", type=int, help="uniform refinements, a MeshHierarchy (default 2)")
    g.add_argument("--n", type=int, help="number of samples (default 100)")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--out", help="output folder (default results/datagen)")

    t = sub.add_parser("train", help="train a SPON model", argument_default=S,
                       description="Train a SPON model on a dataset; writes best.pt, last.pt, history.json.")
    t.add_argument("--config", help="TOML or JSON file with any of the options below")
    t.add_argument("--data", help="dataset.h5 from `spon datagen` (required)")
    t.add_argument("--processor", help="processor kind, one of spon.models.kinds.PROCESSORS: mlp, graph or mg "
                   "(default mg)")
    t.add_argument("--width", type=int, help="processor width (default 24)")
    t.add_argument("--epochs", type=int, help="epochs (default 30)")
    t.add_argument("--batch-size", type=int, help="batch size (default 16)")
    t.add_argument("--lr", type=float, help="peak learning rate (default 3e-3)")
    t.add_argument("--test-fraction", type=float, help="share of samples held out (default 0.2)")
    t.add_argument("--seed", type=int, help="seed for weights and shuffling (default 0)")
    t.add_argument("--device", help="torch device (default cpu)")
    t.add_argument("--dtype", choices=["float32", "float64"], help="model dtype (default float32)")
    t.add_argument("--resume", action="store_true", help="continue from --out/last.pt after an interruption")
    t.add_argument("--nproc", type=int, help="data-parallel ranks on this machine, started with torchrun "
                   "(default 1; gloo on CPU, NCCL on CUDA)")
    t.add_argument("--num-workers", type=int, help="DataLoader workers reading the dataset (default 0)")
    t.add_argument("--out", help="output folder (default results/train)")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on a dataset", argument_default=S,
                       description="Relative FE L2 errors of a checkpoint on a dataset; writes metrics.json, "
                       "a PNG of the worst sample, a .pvd, and every prediction as Firedrake Functions "
                       "(predictions.h5, CheckpointFile; read with spon.fem.load_functions).")
    e.add_argument("--config", help="TOML or JSON file with any of the options below")
    e.add_argument("--checkpoint", help="checkpoint from `spon train` (required)")
    e.add_argument("--data", help="dataset.h5 (required)")
    e.add_argument("--out", help="output folder (default results/evaluate)")

    f = sub.add_parser("fe2", help="run a displacement-controlled FE² solve", argument_default=S,
                       description="Macro plane-strain Newton solve whose σ̄ and tangent at every quadrature "
                       "point come from a trained surrogate (one batched call) or from reference FE² (one "
                       "periodic cell problem per point). Writes history.json (reaction vs load, Newton "
                       "residuals), reaction.png and the σ̄ field as .pvd.")
    f.add_argument("--config", help="TOML or JSON file with any of the options below")
    f.add_argument("--material", choices=["surrogate", "reference"], help="constitutive response (default surrogate)")
    f.add_argument("--surrogate", help="checkpoint from `spon demo equino_training` (required for surrogate)")
    f.add_argument("--rve", help="RVE for reference: fibre, ellipse, three_circles, or your own periodic "
                   "mesh file with physical surfaces per phase (default fibre)")
    f.add_argument("--materials", help="phase laws: a JSON file or inline JSON {region id: [class, {params}]}, "
                   "class a spon law (LinearElastic, NonlinearElasticMatrix) or an importable module.Class "
                   "(default EquiNO's matrix on 1, fibre on 2)")
    f.add_argument("--rve-h", type=float, help="RVE mesh size for reference (default 0.05)")
    f.add_argument("--mesh", help="macro mesh: cook_membrane, l_profile, or a .geo/.msh/.vtu path "
                   "(default cook_membrane)")
    f.add_argument("--h", type=float, help="macro gmsh mesh size (default 12)")
    f.add_argument("--degree", type=int, help="macro displacement degree (default 2)")
    f.add_argument("--clamped", type=int, help="boundary id held fixed (default 1)")
    f.add_argument("--loaded", type=int, help="boundary id moved vertically (default 2)")
    f.add_argument("--displacement", type=float, help="final edge displacement (default 2.0)")
    f.add_argument("--steps", type=int, help="load steps (default 4)")
    f.add_argument("--nproc", type=int, help="MPI ranks (mpiexec) over which reference FE² splits its micro "
                   "solves, one firedrake.Ensemble member each (default 1)")
    f.add_argument("--out", help="output folder (default results/fe2)")
    return p


def _version():
    from . import __version__
    return __version__


def _config(command, args) -> dict:
    cfg = dict(DEFAULTS[command])
    given = vars(args).copy()
    path = given.pop("config", None)
    if path:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"--config: expected a TOML or JSON file, but {p} does not exist")
        try:
            loaded = tomllib.loads(p.read_text()) if p.suffix == ".toml" else json.loads(p.read_text())
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"--config: {p} is not valid {'TOML' if p.suffix == '.toml' else 'JSON'}: {exc}")
        unknown = set(loaded) - set(cfg)
        if unknown:
            raise UsageError(f"--config: unknown keys {sorted(unknown)}; expected some of {sorted(cfg)}")
        cfg.update(loaded)
    for k in ("command", "verbose"):
        given.pop(k, None)
    cfg.update(given)
    missing = [k for k, v in cfg.items() if v is None]
    if missing:
        raise UsageError(f"--{missing[0].replace('_', '-')}: required (on the command line or in --config)")
    return cfg


def _out(cfg, command) -> Path:
    out = Path(cfg["out"])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {out} ({exc.strerror})") from None
    atomic_write_json(out / "config.json", {"command": command, **cfg})
    return out


def cmd_demo(args):
    path = DEMOS_DIR / f"{args.name}.py"
    if not path.is_file():
        raise UsageError(f"NAME: the demo file {path} is missing (demos ship with the repository)")
    argv = [a for a in args.demo_args if a != "--"]
    sys.argv = [str(path)] + argv
    runpy.run_path(str(path), run_name="__main__")
    return 0


def cmd_datagen(cfg):
    from .data import generate_dataset, make_problem
    from .mesh import MeshSpec, build_hierarchy

    if cfg["n"] < 1:
        raise UsageError(f"--n: expected at least 1 sample, got {cfg['n']}")
    with _input("--mesh/--h/--refinements"):
        spec = MeshSpec(cfg["mesh"], cfg["h"], cfg["refinements"])
        build_hierarchy(spec)   # meshing errors are the user's geometry, not a failure
    params = {}
    if cfg["pressure"]:
        if cfg["problem"] != "stokes":
            raise UsageError(f"--pressure: only --problem stokes has a pressure, got --problem {cfg['problem']}")
        params["pressure"] = True
    out = _out(cfg, "datagen")
    prob = make_problem(cfg["problem"], spec, **params)
    path = generate_dataset(prob, cfg["n"], out / "dataset.h5", seed=cfg["seed"])
    log.info("wrote %s", path)
    print(f"wrote {path} ({cfg['n']} samples, {prob.input_space.dim()} -> {prob.output_space.dim()} DOFs)")
    return 0


def cmd_train(cfg):
    import torch

    from .data import FEDataset
    from .models import build_spon
    from .training import ResumeMismatch, Trainer, fe_comm, init_from_env, launch

    if cfg["nproc"] < 1:
        raise UsageError(f"--nproc: expected at least 1 process, got {cfg['nproc']}")
    if cfg["num_workers"] < 0:
        raise UsageError(f"--num-workers: expected 0 or more, got {cfg['num_workers']}")
    if cfg["nproc"] > 1 and "WORLD_SIZE" not in os.environ:   # start the ranks; each runs this command
        if cfg["batch_size"] % cfg["nproc"]:
            raise UsageError(f"--batch-size: expected a multiple of --nproc {cfg['nproc']}, got {cfg['batch_size']}")
        return launch(cfg["nproc"], ["spon.cli", *_ARGV])
    with _input("--data"):
        ds = FEDataset(cfg["data"])
    meta = ds.meta
    if not 0 < cfg["test_fraction"] < 1:
        raise UsageError(f"--test-fraction: expected a number in (0, 1), got {cfg['test_fraction']}")
    for opt in ("epochs", "batch_size", "width"):
        if cfg[opt] < 1:
            raise UsageError(f"--{opt.replace('_', '-')}: expected at least 1, got {cfg[opt]}")
    if not 0 < cfg["lr"] < float("inf"):
        raise UsageError(f"--lr: expected a positive finite learning rate, got {cfg['lr']}")
    with _input("--device"):
        device = torch.device(cfg["device"])
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device: {cfg['device']} requested, but torch sees no CUDA device")
    from .models.kinds import PROCESSORS
    if cfg["processor"] not in PROCESSORS.names:
        raise UsageError(f"--processor: expected one of {PROCESSORS.names}, got {cfg['processor']!r}")
    rank, world, device = init_from_env(device)
    proc = {"kind": cfg["processor"], "width": cfg["width"]}
    if cfg["processor"] == "mlp":
        proc["depth"] = 2
    dirichlet = dict(meta.get("dirichlet", {"value": 0.0, "boundary": "on_boundary"}))   # older: all of ∂Ω
    spec = {"mesh": meta["mesh"], "input": _elem(meta, "input"), "output": _elem(meta, "output"),
            "encoder": "l2", "decoder": {"kind": "dirichlet", **dirichlet},
            "processor": proc, "dtype": cfg["dtype"], "seed": cfg["seed"]}
    if "mixed" in spec["output"]:
        # one decoder per part: the Dirichlet data on their part, coefficients elsewhere; a graph or multigrid
        # processor works on the shared node graph, so the input's coefficients go in as they are
        part = dirichlet.pop("part", 0)
        spec["encoder"] = "coefficients"
        spec["decoder"] = {"kind": "mixed", "parts": [{"kind": "dirichlet", **dirichlet} if i == part else
                                                      {"kind": "coefficients"}
                                                      for i in range(len(spec["output"]["mixed"]))]}
    with _input("--data"):   # the dataset's mesh and elements
        model = build_spon(spec, comm=fe_comm())
        ds.check_spaces(model.encoder.U, model.decoder.V)
    n_test = max(1, int(round(cfg["test_fraction"] * len(ds))))
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(cfg["seed"]))
    te, tr = perm[:n_test], perm[n_test:]
    out = _out(cfg, "train")
    try:
        trainer = Trainer(model, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"], seed=cfg["seed"],
                          device=device, checkpoint_dir=out, checkpoint_every=max(1, cfg["epochs"] // 5),
                          num_workers=cfg["num_workers"])
    except ValueError as e:
        raise UsageError(f"--batch-size: {e}") from None
    resume = None
    if cfg["resume"]:
        if not (out / "last.pt").is_file():
            raise UsageError(f"--resume: expected {out / 'last.pt'} from an earlier run, but it does not exist")
        with _input("--resume"):
            resume = trainer.read_resume(out / "last.pt")
    Subset = torch.utils.data.Subset
    try:
        hist = trainer.fit(Subset(ds, tr.tolist()), Subset(ds, te.tolist()), resume=resume)
    except ResumeMismatch as e:
        raise UsageError(f"--resume: {e}") from None
    if rank == 0:
        atomic_write_json(out / "history.json", hist)
        print(f"final test relative L2 error {hist['test_rel'][-1]:.3e}; wrote {out}/best.pt, last.pt, history.json"
              + (f" ({world} data-parallel ranks)" if world > 1 else ""))
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


def _elem(meta, which):
    from .fem.space_spec import space_spec

    e = meta.get(f"{which}_element")
    if e is None:
        raise UsageError(f"--data: the dataset does not record its {which} element (regenerate it with spon datagen)")
    return space_spec(e)


def _plottable(f):
    """``f`` itself, or the magnitude of a vector Function (for tripcolor)."""
    import firedrake as fd
    if f.function_space().value_shape == ():
        return f
    return fd.Function(fd.FunctionSpace(f.function_space().mesh(), "CG", 1), name=f"|{f.name()}|").interpolate(
        fd.sqrt(fd.inner(f, f)))


def cmd_evaluate(cfg):
    import firedrake as fd
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from firedrake.pyplot import tripcolor

    from .data import FEDataset
    from .fem import FENorm, save_functions, to_functions
    from .fem.layout import SpaceLayout
    from .models import load_checkpoint

    with _input("--checkpoint"):
        model = load_checkpoint(cfg["checkpoint"])
    with _input("--data"):
        ds = FEDataset(cfg["data"])
        ds.check_spaces(model.encoder.U, model.decoder.V)
    V = model.decoder.V
    parts = list(V) if len(V) > 1 else [V]
    offsets = SpaceLayout(V).offsets
    with torch.no_grad():   # streamed: only the predictions and one batch of data are held
        dt = model.input_scale.dtype
        pred, rel, rel_parts, bnd_err = [], [], [], 0.0
        bnd = model.decoder.boundary_dofs if hasattr(model.decoder, "boundary_dofs") else None
        norm = FENorm(V)
        part_norms = [FENorm(Vi) for Vi in parts] if len(parts) > 1 else []
        for i in range(0, len(ds), 64):
            x, y, dec = ds.read_batch(range(i, min(i + 64, len(ds))))
            p = model(x.to(dt), **{k: v.to(dt) for k, v in dec.items()}).double().reshape(len(x), -1)
            pred.append(p)
            rel.append(norm.relative_error(p, y))
            rel_parts.append(torch.stack([n.relative_error(p[:, a:b], y[:, a:b]) for n, a, b in
                                          zip(part_norms, offsets, offsets[1:])], 1) if part_norms else p[:, :0])
            if bnd is not None and len(bnd):
                bnd_err = max(bnd_err, (p[:, bnd] - y[:, bnd]).abs().max().item())
        pred, rel, rel_parts = torch.cat(pred), torch.cat(rel), torch.cat(rel_parts)
    metrics = {"n": len(ds), "rel_l2_mean": rel.mean().item(), "rel_l2_median": rel.median().item(),
               "rel_l2_max": rel.max().item(),
               "max_boundary_error": None if bnd is None or not len(bnd) else bnd_err}
    if part_norms:      # each part in its own norm: a pressure error does not hide in the velocity's
        metrics["parts"] = [{"element": str(Vi.ufl_element()), "rel_l2_mean": r.mean().item(),
                             "rel_l2_median": r.median().item(), "rel_l2_max": r.max().item()}
                            for Vi, r in zip(parts, rel_parts.T)]
    out = _out(cfg, "evaluate")
    atomic_write_json(out / "metrics.json", metrics)
    i = int(rel.argmax())
    truth, p = to_functions(ds.read_batch([i])[1], V)[0], to_functions(pred[i:i + 1], V)[0]
    err = fd.Function(V, name="error").assign(p - truth)
    trios = [(t, q, e) for t, q, e in zip(truth.subfunctions, p.subfunctions, err.subfunctions)]
    fig, axes = plt.subplots(len(trios), 3, figsize=(13, 4 * len(trios)), squeeze=False)
    for row, trio in zip(axes, trios):
        for ax, f, title in zip(row, trio, ("truth", "prediction", "error")):
            fig.colorbar(tripcolor(_plottable(f), axes=ax), ax=ax)
            if len(trios) > 1:
                title = f"{title}, part {trios.index(trio)}"
            ax.set_title(title if f.function_space().value_shape == () else f"|{title}|")
            ax.set_aspect("equal")
            ax.set_axis_off()
    fig.suptitle(f"worst sample {i}: relative L2 error {rel[i]:.2e}")
    _save_figure(fig, out / "worst_sample.png")
    vtk = []
    for name, f in (("truth", truth), ("prediction", p), ("error", err)):
        for k, fk in enumerate(f.subfunctions):     # VTK takes no mixed Functions: one field per part
            vtk.append(fd.Function(fk.function_space(), name=name if len(trios) == 1 else f"{name}_{k}").assign(fk))
    fd.VTKFile(str(out / "worst_sample.pvd")).write(*vtk)
    save_functions(out / "predictions.h5", pred, V, name="prediction")
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_fe2(cfg) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import firedrake as fd
    import matplotlib.pyplot as plt
    import numpy as np

    from .mesh import GEOMETRIES, gmsh_mesh, read_mesh
    from .multiscale import load_surrogate
    from .multiscale.materials import materials_from_spec
    from .multiscale.macro import FE2Material, SurrogateMaterial, check_boundary_ids
    from .multiscale.workflow import rve_problem, run_macro

    if cfg["steps"] < 1:
        raise UsageError(f"--steps: expected at least 1, got {cfg['steps']}")
    if cfg["nproc"] < 1:
        raise UsageError(f"--nproc: expected at least 1 process, got {cfg['nproc']}")
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    if cfg["nproc"] > 1 and world.size == 1:   # start the ranks; each runs this command
        import shutil
        import subprocess
        exe = shutil.which("mpiexec")
        if exe is None:
            raise UsageError("--nproc: needs mpiexec on PATH (Debian: openmpi-bin)")
        from .ensemble import mpiexec_env
        return subprocess.call([exe, "-n", str(cfg["nproc"]), sys.executable, "-m", "spon.cli", *_ARGV],
                               env=mpiexec_env(), stdin=subprocess.DEVNULL)
    ens = fd.Ensemble(world, 1) if world.size > 1 else None
    comm = {"comm": ens.comm} if ens is not None else {}
    mats = None
    if cfg["materials"]:
        with _input("--materials"):
            m = cfg["materials"]
            spec = m if isinstance(m, dict) else json.loads(
                Path(m).read_text() if not m.lstrip().startswith("{") else m)
            mats = materials_from_spec(spec, strict=True)
    if cfg["material"] == "surrogate":
        if not cfg["surrogate"]:
            raise UsageError("--surrogate: required with --material surrogate (a checkpoint from "
                             "`spon demo equino_training`, e.g. results/equino/equino.pt)")
        with _input("--surrogate"):
            material = SurrogateMaterial(load_surrogate(cfg["surrogate"], materials=mats))
    else:
        with _input("--rve/--rve-h/--materials"):
            rve, _ = rve_problem(cfg["rve"], h=cfg["rve_h"], materials=mats, **comm)
        material = FE2Material(rve, ensemble=ens, progress=world.rank == 0)
    m = cfg["mesh"]
    with _input("--mesh/--h"):
        mesh = gmsh_mesh(m, h=cfg["h"], **comm) if m in GEOMETRIES or m.endswith(".geo") else read_mesh(m, **comm)
    with _input("--clamped/--loaded"):
        check_boundary_ids(mesh, clamped=cfg["clamped"], loaded=cfg["loaded"])
    if cfg["degree"] < 1:
        raise UsageError(f"--degree: expected at least 1, got {cfg['degree']}")
    out = _out(cfg, "fe2")
    path = np.linspace(0, cfg["displacement"], cfg["steps"] + 1)[1:]
    mp, hist, secs = run_macro(mesh, material, path, degree=cfg["degree"], clamped=cfg["clamped"],
                               loaded=cfg["loaded"], progress=world.rank == 0)
    res = {"seconds": secs, "quadrature_points": mp.n_quadrature_points, "strain_max": mp.strain_max,
           "ranks": world.size,
           "steps": [{"displacement": s.displacement, "reaction": s.reaction, "newton_residuals": s.residuals}
                     for s in hist], **material.stats()}
    if world.rank != 0:      # every rank holds the whole macro problem; rank 0 writes
        return 0
    atomic_write_json(out / "history.json", res)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, *path], [0, *[s.reaction for s in hist]], "o-")
    ax.set_xlabel("edge displacement"), ax.set_ylabel("reaction"), ax.set_title(f"FE² ({cfg['material']})")
    _save_figure(fig, out / "reaction.png")
    fd.VTKFile(str(out / "fe2.pvd"), comm=mesh.comm).write(mp.u, mp.stress_output())
    print(json.dumps({k: res[k] for k in ("seconds", "quadrature_points")} |
                     {"reaction": [s.reaction for s in hist]}, indent=2))
    return 0


def main(argv=None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # spon's argv is not for PETSc: without this it reports our flags as unused options
    os.environ.setdefault("PETSC_OPTIONS", "-options_left no")
    global _ARGV
    _ARGV = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        if args.command == "demo":
            return cmd_demo(args)
        cfg = _config(args.command, args)
        return {"datagen": cmd_datagen, "train": cmd_train, "evaluate": cmd_evaluate,
                "fe2": cmd_fe2}[args.command](cfg)
    except UsageError as exc:
        if os.environ.get("SPON_DEBUG"):
            raise
        print(f"spon: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI turns failures into messages
        if os.environ.get("SPON_DEBUG"):
            raise
        print(f"spon: failed: {type(exc).__name__}: {exc} (set SPON_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
