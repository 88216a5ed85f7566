"""Training steps per second at equal DOFs, before and after (``benchmarks/results/step_speed.json``).

One optimiser step (forward, backward, AdamW) on a batch of ``--batch`` body forces on Cook's
membrane ([CG1]², 3-level hierarchy, float32): SPON-MG as it was (the message network ``ψ`` applied
on every edge), SPON-MG now (``ψ`` applied after the mean, on the nodes: the same function, since
``ψ`` is affine), the same compiled in place (``torch.compile``, inductor), the linear multigrid
processor, and the grid FNO on the ``n × n`` grid whose point count is nearest the DOFs' (its own
batch of 20 and its own loss). Variants run in turns (A B C … A B C …) in one process and each
reports its median over ``--rounds``, so the ratios are measured side by side::

    python -m benchmarks run step_speed
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from spon.mesh import MeshSpec
from spon.models import build_spon
from spon.processors.graph import MessagePassing

from ..baselines import fno, spon as spon_baseline
from ..harness import RESULTS, Results, machine, set_threads


class EdgeMessagePassing(MessagePassing):
    """The message passing before this change: ``ψ`` on every edge, then the mean."""

    def forward(self, h, graph):
        s, t = graph.edge_index
        m = self.act(self.src(h).index_select(1, s) + self.dst(h).index_select(1, t)
                     + self.edge(graph.edge_attr.to(h.dtype)))
        m = self.msg(m)
        agg = torch.zeros_like(h).index_add_(1, t, m) * graph.inv_degree.to(h.dtype)
        return h + self.update(torch.cat([h, agg], dim=-1))


def spon_step(spec, batch, edge_messages=False, compiled=False):
    torch.manual_seed(0)
    model = build_spon(spec)
    if edge_messages:
        for mod in model.modules():
            if type(mod) is MessagePassing:
                mod.__class__ = EdgeMessagePassing
    if compiled:
        model.processor.compile()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, model.encoder.V.dim(), generator=gen)
    y = torch.randn(batch, model.decoder.V.dim(), generator=gen)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x).reshape(batch, -1) - y).pow(2).mean()
        loss.backward()
        opt.step()
    return model, step


def fno_step(V, n, batch=20):
    """The grid FNO's own training step (its fit's inner loop): FE → grid, the network, the relative
    L² inside the domain, Adam."""
    import firedrake as fd
    from spon.fem import GridTransfer

    grid = GridTransfer(fd.FunctionSpace(V.mesh(), "CG", 1), n=n)
    m = fno.GridFNO(grid, seed=0, c=2, **fno.SETTINGS["fno"])
    gen = torch.Generator().manual_seed(1)
    X, Y = torch.randn(batch, V.dim(), generator=gen), torch.randn(batch, V.dim(), generator=gen)
    m.fit(X, Y, 0)                               # normalisers only
    u = m._to_grid(m.grid_out, Y, m.c_out)
    opt = torch.optim.Adam(m.net.parameters(), lr=1e-3, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        d = ((m._grid_out(X) - u) * m.mask).flatten(1).norm(dim=1)
        (d / (u * m.mask).flatten(1).norm(dim=1)).mean().backward()
        opt.step()
    return m.net, step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--h", type=float, default=6.0, help="gmsh size of Cook's membrane (mm), refined twice")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=5, help="steps per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--no-compile", action="store_true", help="skip the compiled variant (about a minute)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=RESULTS / "step_speed.json")
    a = p.parse_args(argv)
    threads = set_threads(a.threads)
    ms = MeshSpec("cook_membrane", a.h, 2)
    space = {"family": "CG", "degree": 1, "shape": [2]}
    base = {"mesh": ms.to_dict(), "input": space, "output": space,
            "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [1]}, "dtype": "float32"}
    mg = {**base, "encoder": "l2", "processor": spon_baseline.mg()}
    variants = {"spon_mg_edge_messages": lambda: spon_step(mg, a.batch, edge_messages=True),
                "spon_mg": lambda: spon_step(mg, a.batch),
                "linear_mg": lambda: spon_step({**base, "encoder": "moments",
                                                "processor": {"kind": "linear_mg", "cycles": 3, "hidden": 16}},
                                               a.batch)}
    if not a.no_compile:
        variants["spon_mg_compiled"] = lambda: spon_step(mg, a.batch, compiled=True)
    built = {}
    setup = {}
    for name, make in variants.items():
        t = time.perf_counter()
        built[name] = make()
        for _ in range(2):                     # warm-up (and, compiled, the compilation)
            built[name][1]()
        setup[name] = time.perf_counter() - t
    dofs = built["spon_mg"][0].decoder.V.dim()
    n = int(round((dofs / 2) ** 0.5))
    t = time.perf_counter()
    built["fno"] = fno_step(built["spon_mg"][0].decoder.V, n)
    built["fno"][1]()
    setup["fno"] = time.perf_counter() - t
    times = {k: [] for k in built}
    for _ in range(a.rounds):
        for name, (_, step) in built.items():
            t = time.perf_counter()
            for _ in range(a.steps):
                step()
            times[name].append((time.perf_counter() - t) / a.steps)
    rate = {k: 1.0 / float(np.median(v)) for k, v in times.items()}
    res = {"dofs": dofs, "fno_grid": [n, n], "fno_values": 2 * n * n, "batch": a.batch, "fno_batch": 20,
           "dtype": "float32", "rounds": a.rounds, "steps_per_round": a.steps, "machine": machine(threads),
           "steps_per_second": rate, "setup_seconds": setup,
           "params": {k: sum(q.numel() for q in m.parameters()) for k, (m, _) in built.items()},
           "speedup_vs_before": {k: rate[k] / rate["spon_mg_edge_messages"] for k in rate},
           "samples_per_second": {k: rate[k] * (20 if k == "fno" else a.batch) for k in rate}}
    for k, v in rate.items():
        print(f"{k:24s} {v:7.2f} steps/s  {res['speedup_vs_before'][k]:.2f}x the old SPON-MG")
    out = Results(a.out)
    out["step_speed"] = res
    return out.data


if __name__ == "__main__":
    main()
