r"""
Hyperelasticity: a neo-Hookean membrane under random loads
==========================================================

The SPON paper's third problem. Cook's membrane (48 mm wide, clamped on the
left) is a compressible neo-Hookean solid in plane strain,

.. math::

    \psi(F) = \frac{\mu}{2}\big(\operatorname{tr}(F^TF) - 2 - 2\ln J\big) + \frac{\lambda}{2}(\ln J)^2,
    \qquad F = I + \nabla u,\ J = \det F,

loaded by a random body force :math:`f` (two Matérn components). Firedrake's
Newton solver with load stepping gives the displacement
(:class:`~spon.data.HyperelasticityProblem`). We learn :math:`f \mapsto u` with

.. math::

    S = D \circ P_{\mathrm{Picard}} \circ E_G :

* :math:`E_G`: the encoder that solves *linear* elasticity with the same
  :math:`\mu, \lambda` for the body force (``{"kind": "inverse_elasticity"}``,
  :class:`~spon.fem.GreenEncoder`): :math:`u_1 = K_{II}^{-1}(M f)_I`, clamped
  DOFs zero;
* :math:`P_{\mathrm{Picard}}`: two learned Picard steps
  (:class:`~spon.processors.PicardProcessor`),
  :math:`u_{k+1} = u_1 + K^{-1} D^T W \tau_k(\nabla u_k, \nabla u_1)`, with
  :math:`K^{-1}` the exact linear elastic solve and :math:`\tau_k` a small MLP
  evaluated at every quadrature point: a learned stress correction. The true
  neo-Hookean solution obeys this with
  :math:`\tau = \sigma_{lin}(\nabla u) - P(I + \nabla u)`;
* :math:`D`: the Dirichlet decoder, so the clamped DOFs are exactly zero.

:math:`\tau_k` start at zero, so the untrained model is linear elasticity.
Training uses the labelled pairs and, with ``--pool N``, also the neo-Hookean
potential energy of ``N`` random forces that were never solved
(:class:`~spon.physics.PotentialEnergyLoss`: its minimiser is the FE
solution). We compare with linear elasticity itself and with modified Newton
(the same iteration with the true stress, no learning).

Run as a script: ``python demos/hyperelasticity.py`` (a few minutes on 2 cores).
"""

# %%
# Settings
# --------
# The command line sets the sizes; the defaults are the full run, and the docs
# build uses small ones (``doc/gallery_settings.py``).
import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")

import firedrake as fd  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from firedrake.pyplot import tripcolor, triplot  # noqa: E402

from spon.data import ElasticityProblem, HyperelasticityProblem  # noqa: E402
from spon.fem import FENorm, assembly, to_functions  # noqa: E402
from spon.fem.sparse import spmv  # noqa: E402
from spon.mesh import MeshSpec  # noqa: E402
from spon.models import build_spon  # noqa: E402
from spon.physics import HyperelasticEnergy, PotentialEnergyLoss, neo_hookean  # noqa: E402
from spon.training import Trainer  # noqa: E402

p = argparse.ArgumentParser(description="Neo-Hookean Cook's membrane under random body forces")
p.add_argument("--h", type=float, default=6.0, help="gmsh size of the base mesh (mm)")
p.add_argument("--refinements", type=int, default=2)
p.add_argument("--n-train", type=int, default=200)
p.add_argument("--n-test", type=int, default=40)
p.add_argument("--epochs", type=int, default=150)
p.add_argument("--pool", type=int, default=0, help="random forces with no solve, for the energy loss")
p.add_argument("--out", type=Path, default=Path("results/hyperelasticity"))
args = p.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Data from Newton solves
# -----------------------
ms = MeshSpec("cook_membrane", args.h, args.refinements)
prob = HyperelasticityProblem(ms)
V = prob.output_space
n = args.n_train + args.n_test
t0 = time.perf_counter()
X = prob.sample_inputs(n, seed=0).reshape(n, -1)
Y = prob.solve(X)
print(f"{n} neo-Hookean solves ({V.dim()} DOFs, {sum(prob.newton_iterations) / n:.1f} Newton iterations each "
      f"over 4 load steps) in {time.perf_counter() - t0:.0f} s")
Xtr, Ytr, Xte, Yte = X[args.n_test:], Y[args.n_test:], X[:args.n_test], Y[:args.n_test]
norm = FENorm(V)

# %%
# The reference: linear elasticity
# --------------------------------
# The same body force on a linear elastic body with the same Lamé parameters.
mu, lmbda = prob.params["mu"], prob.params["lmbda"]
linear = ElasticityProblem(ms, youngs=mu * (3 * lmbda + 2 * mu) / (lmbda + mu), poisson=lmbda / (2 * (lmbda + mu)),
                           clamp=1)
Ylin = linear.solve(Xte.reshape(args.n_test, -1, 2), progress=False)
rel_lin = norm.relative_error(Ylin, Yte)
print(f"linear elasticity as a prediction: relative L2 error {rel_lin.mean():.3f}")

# %%
# The operator, and its training
# ------------------------------
spec = {"mesh": ms.to_dict(), "input": {"family": "CG", "degree": 1, "shape": [2]},
        "output": {"family": "CG", "degree": 1, "shape": [2]},
        "encoder": {"kind": "inverse_elasticity", "mu": mu, "lmbda": lmbda},
        "decoder": {"kind": "dirichlet", "value": 0.0, "boundary": [1]},
        "processor": {"kind": "picard", "mu": mu, "lmbda": lmbda, "steps": 2, "width": 64, "depth": 3},
        "dtype": "float32"}
model = build_spon(spec)
energy, data, labelled = None, (Xtr, Ytr), None
if args.pool:
    pool = prob.sample_inputs(args.pool, seed=1000).reshape(args.pool, -1)
    energy = PotentialEnergyLoss(V, neo_hookean(mu, lmbda), prob.input_space).float()
    data = (torch.cat([Xtr, pool]), torch.cat([Ytr, torch.zeros(args.pool, Ytr.shape[1], dtype=Ytr.dtype)]))
    labelled = torch.cat([torch.ones(len(Xtr), dtype=torch.bool), torch.zeros(args.pool, dtype=torch.bool)])
t0 = time.perf_counter()
Trainer(model, epochs=args.epochs, batch_size=16, lr=1e-3, seed=0, desc="SPON-Picard").fit(
    data, physics=energy, labelled=labelled)
with torch.no_grad():
    pred = model(Xte.float()).double().reshape(args.n_test, -1)
rel = norm.relative_error(pred, Yte)
bnd = pred[:, model.decoder.boundary_dofs].abs().max().item()
print(f"SPON-Picard: relative L2 error {rel.mean():.3f} after {args.epochs} epochs ({time.perf_counter() - t0:.0f} s); "
      f"clamped DOFs {bnd:.0e}")
# the same iteration with the true stress, no learning: modified Newton from the linear solve
model.double()
proc = model.processor
E = HyperelasticEnergy(V, neo_hookean(mu, lmbda))
B = assembly.mixed_mass_matrix(prob.input_space, V)
with torch.no_grad():
    u = model.encoder(Xte).reshape(args.n_test, -1)
    for _ in range(2):
        u = u + (spmv(B, Xte) - E.internal_force(u)) @ proc.inverse.T
model.float()
print(f"modified Newton, 2 steps with the true stress: relative L2 error {norm.relative_error(u, Yte).mean():.3f}")

# %%
# The deformed membrane
# ---------------------
# The test sample with the largest displacement: the Newton solution, the
# prediction and linear elasticity, drawn on the deformed mesh.
i = int(Yte.reshape(args.n_test, -1, 2).norm(dim=-1).max(dim=1).values.argmax())
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
S = fd.FunctionSpace(prob.mesh, "CG", 1)
coords = prob.mesh.coordinates.copy(deepcopy=True)
for ax, vec, title in ((axes[0], Yte[i], "Newton (neo-Hookean)"), (axes[1], pred[i], "SPON-Picard"),
                       (axes[2], Ylin[i], "linear elasticity")):
    u = to_functions(vec[None], V)[0]
    mag = fd.Function(S).interpolate(fd.sqrt(fd.inner(u, u)))
    prob.mesh.coordinates.assign(coords + fd.Function(coords.function_space()).interpolate(u))
    fig.colorbar(tripcolor(mag, axes=ax, vmin=0, vmax=float(Yte[i].reshape(-1, 2).norm(dim=1).max())), ax=ax,
                 label="|u| (mm)")
    triplot(prob.mesh, axes=ax, interior_kw={"linewidth": 0.1, "edgecolor": "k"})
    prob.mesh.coordinates.assign(coords)
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
fig.savefig(args.out / "hyperelasticity.png", dpi=110, bbox_inches="tight")
truth, predf = to_functions(Yte[i:i + 1], V)[0], to_functions(pred[i:i + 1], V)[0]
truth.rename("newton")
predf.rename("spon_picard")
fd.VTKFile(str(args.out / "hyperelasticity.pvd")).write(truth, predf)
print("wrote hyperelasticity.png and hyperelasticity.pvd to the output folder")
rel_mean, rel_linear = rel.mean().item(), rel_lin.mean().item()
