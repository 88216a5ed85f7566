"""Checkpoints rebuild models in a fresh process; training is seeded; models move meshes."""
import json
import subprocess
import sys

import pytest
import torch

from spon.data import DarcyProblem
from spon.mesh import MeshSpec
from spon.models import build_spon, load_checkpoint, save_checkpoint, with_mesh
from spon.training import Trainer

MS = MeshSpec("unit_square", 0.25, 2)
SPEC = {"mesh": MS.to_dict(), "input": {"family": "DG", "degree": 0}, "output": {"family": "CG", "degree": 1},
        "encoder": "l2", "decoder": {"kind": "dirichlet", "value": 0.0},
        "processor": {"kind": "mg", "width": 8, "coarse_width": 8, "smooth": 1, "coarse_layers": 1}}


@pytest.fixture(scope="module")
def darcy_data():
    prob = DarcyProblem(MS)
    x = prob.sample_inputs(12, seed=0)
    return prob, x, prob.solve(x, progress=False)


def test_checkpoint_round_trip_in_fresh_process(tmp_path, darcy_data):
    prob, x, y = darcy_data
    model = build_spon(SPEC)
    Trainer(model, epochs=1, batch_size=4, progress=False).fit((x, y))
    save_checkpoint(model, tmp_path / "m.pt")
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        want = model(x)
    code = (
        f"import torch; torch.set_num_threads({torch.get_num_threads()})  # same reduction order\n"
        "from spon.models import load_checkpoint\n"
        f"m = load_checkpoint({str(tmp_path / 'm.pt')!r})\n"
        f"x = torch.load({str(tmp_path / 'x.pt')!r})\n"
        f"torch.save(m(x).detach(), {str(tmp_path / 'y.pt')!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300,
                   env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    got = torch.load(tmp_path / "y.pt")
    assert torch.equal(got, want)


def test_checkpoint_carries_the_spec(tmp_path):
    model = build_spon(SPEC)
    path = save_checkpoint(model, tmp_path / "m.pt")
    m2, ckpt = load_checkpoint(path, with_state=True)
    assert ckpt["spec"]["processor"]["levels"] == 3
    assert json.dumps(ckpt["spec"], sort_keys=True) == json.dumps(m2.spec, sort_keys=True)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: expected a spon checkpoint"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"path: .* is not a spon checkpoint: it is not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"is not a spon checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_bad_spec():
    with pytest.raises(ValueError, match=r"spec\['processor'\]\['kind'\]: expected"):
        build_spon({**SPEC, "processor": {"kind": "transformer"}})
    with pytest.raises(ValueError, match=r"spec: missing key 'decoder'"):
        build_spon({k: v for k, v in SPEC.items() if k != "decoder"})


def test_training_is_seeded_and_learns(darcy_data):
    prob, x, y = darcy_data
    runs = []
    for _ in range(2):
        model = build_spon(SPEC)
        tr = Trainer(model, epochs=4, batch_size=4, lr=3e-3, seed=7, progress=False)
        hist = tr.fit((x[:8], y[:8]), (x[8:], y[8:]))
        runs.append((model.state_dict(), hist))
    sd1, sd2 = runs[0][0], runs[1][0]
    assert all(torch.equal(sd1[k].to_dense() if sd1[k].is_sparse else sd1[k],
                           sd2[k].to_dense() if sd2[k].is_sparse else sd2[k]) for k in sd1)
    assert runs[0][1]["train_loss"][-1] < runs[0][1]["train_loss"][0]


def test_trainer_checkpoints(tmp_path, darcy_data):
    prob, x, y = darcy_data
    model = build_spon(SPEC)
    Trainer(model, epochs=2, batch_size=6, checkpoint_dir=tmp_path, checkpoint_every=1,
            progress=False).fit((x[:8], y[:8]), (x[8:], y[8:]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    assert load_checkpoint(tmp_path / "last.pt", with_state=True)[1]["epoch"] == 2


def test_model_moves_to_a_refined_mesh(darcy_data):
    prob, x, y = darcy_data
    model = build_spon(SPEC)
    fine = with_mesh(model, MS.refined().to_dict())
    assert fine.decoder.V.dim() > model.decoder.V.dim()
    for k, v in model.processor.state_dict().items():
        assert torch.equal(v, fine.processor.state_dict()[k])
    fprob = DarcyProblem(MS.refined())
    out = fine(fprob.sample_inputs(2, seed=0))
    assert out.shape == (2, fprob.output_space.dim())
    assert torch.all(out[:, fine.decoder.boundary_dofs] == 0)


def test_model_moved_to_a_refined_mesh_keeps_its_accuracy():
    """A trained SPON-MG applied on a once-refined mesh (no retraining) is still far better
    than an untrained model there; a broken transfer of weights or scales is not."""
    from spon.fem import FENorm
    coarse, fine = MeshSpec("unit_square", 0.25, 1), MeshSpec("unit_square", 0.25, 2)
    spec = {**SPEC, "mesh": coarse.to_dict(), "processor": {"kind": "mg", "width": 16}}

    def data(ms, n, seed):
        prob = DarcyProblem(ms)
        x = prob.sample_inputs(n, seed=seed)
        return prob, x, prob.solve(x, progress=False)

    prob_c, xc, yc = data(coarse, 48, 0)
    model = build_spon(spec)
    Trainer(model, epochs=40, batch_size=8, lr=3e-3, progress=False).fit((xc[:40], yc[:40]))
    prob_f, xf, yf = data(fine, 8, 1)

    def err(m, prob, x, y):
        with torch.no_grad():
            dt = m.input_scale.dtype
            return FENorm(prob.output_space).relative_error(m(x.to(dt)).double(), y).mean().item()

    e_coarse = err(model, prob_c, xc[40:], yc[40:])
    moved = with_mesh(model, fine.to_dict())
    e_fine = err(moved, prob_f, xf, yf)
    untrained = build_spon({**spec, "mesh": fine.to_dict()})
    dt = untrained.input_scale.dtype
    untrained.fit_scales(xf.to(dt), yf.to(dt))
    e_untrained = err(untrained, prob_f, xf, yf)
    # the operator kept on its mesh, data and predictions transferred: nested and unrelated meshes
    e_on = {}
    for name, ms in (("refined", fine), ("unrelated", MeshSpec("unit_square", 0.17, 0))):
        prob_o, xo, yo = data(ms, 8, 2)
        on = model.on_spaces(prob_o.input_space, prob_o.output_space, prob_o.bcs)
        with torch.no_grad():
            pred = on(xo.to(model.input_scale.dtype)).double()
        e_on[name] = FENorm(prob_o.output_space).relative_error(pred, yo).mean().item()
        bnodes = prob_o.bcs[0].nodes
        assert pred[:, bnodes].abs().max().item() == 0.0          # exact BCs on the new mesh
    print(f"coarse {e_coarse:.3f}  moved to fine {e_fine:.3f}  untrained on fine {e_untrained:.3f}  "
          f"on_spaces {e_on}")
    assert e_coarse < 0.3
    assert e_fine < 3 * e_coarse and e_fine < 0.5 * e_untrained
    assert e_on["refined"] < 2 * e_coarse and e_on["unrelated"] < 2 * e_coarse


def test_with_mesh_refuses_what_cannot_move(darcy_data):
    mlp = build_spon({**SPEC, "processor": {"kind": "mlp", "width": 8, "depth": 1}})
    with pytest.raises(ValueError, match="with_mesh: an MLP processor acts on the whole DOF vector"):
        with_mesh(mlp, MS.refined().to_dict())
    moments = build_spon({**SPEC, "encoder": "moments"})
    with pytest.raises(ValueError, match="with_mesh: the 'moments' encoder scales with the cell size"):
        with_mesh(moments, MS.refined().to_dict())
    prob = DarcyProblem(MS.refined())
    with pytest.raises(ValueError, match="bcs: the model keeps Dirichlet data exactly"):
        mlp.on_spaces(prob.input_space, prob.output_space)
    with pytest.raises(ValueError, match="U: expected a space of the model's input element"):
        mlp.on_spaces(prob.output_space, prob.output_space, prob.bcs)


def test_physics_only_training_reduces_the_residual(darcy_data):
    """No labels: the Darcy H⁻¹ residual of the predictions goes down, and the
    error against the (unseen) solutions goes down with it."""
    import firedrake as fd
    from spon.fem import FENorm
    from spon.physics import ResidualFunctional
    prob, x, y = darcy_data
    R = ResidualFunctional(prob.output_space,
                           lambda u, v, k: k * fd.inner(fd.grad(u), fd.grad(v)) * fd.dx - v * fd.dx,
                           bcs=prob.bcs, norm="L2_preconditioned", data_spaces=[prob.input_space])

    def physics(pred, k):
        with torch.no_grad():
            J0 = R(torch.zeros_like(pred), k)
        return R(pred, k) / J0

    model = build_spon(SPEC)
    tr = Trainer(model, epochs=6, batch_size=4, lr=3e-3, seed=0, progress=False)
    l2 = FENorm(prob.output_space)
    model.fit_scales(x)
    model.output_scale.fill_(0.005)
    with torch.no_grad():
        before = physics(model(x), x).mean().item()
        err_before = l2.relative_error(model(x), y).mean().item()
    tr.fit((x, None), physics=physics, output_scale=0.005)
    with torch.no_grad():
        after = physics(model(x), x).mean().item()
        err = l2.relative_error(model(x), y).mean().item()
    assert after < 0.5 * before, (before, after)
    assert err < 0.7 * err_before, (err_before, err)


def test_trainer_needs_labels_or_physics(darcy_data):
    prob, x, y = darcy_data
    tr = Trainer(build_spon(SPEC), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"train: expected outputs, or a physics loss"):
        tr.fit((x, None))
    with pytest.raises(ValueError, match=r"labelled: expected a bool tensor of shape \(12,\)"):
        tr.fit((x, y), labelled=torch.ones(3, dtype=torch.bool))


_KINDS = {
    "dirichlet": ({"family": "DG", "degree": 0}, {"family": "CG", "degree": 1}, "l2",
                  {"kind": "dirichlet", "value": 0.5, "lifting": "harmonic"},
                  {"kind": "graph", "width": 4, "layers": 1}),
    "coefficients": ({"family": "CG", "degree": 1}, {"family": "CG", "degree": 1}, "coefficients",
                     {"kind": "coefficients"}, {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1}),
    "vector": ({"family": "CG", "degree": 1, "shape": [2]}, {"family": "CG", "degree": 1, "shape": [2]}, "l2",
               {"kind": "dirichlet", "value": [0.0, 0.1], "boundary": [1]},
               {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1}),
    "green": ({"family": "CG", "degree": 1, "shape": [2]}, {"family": "CG", "degree": 1, "shape": [2]}, "l2",
              {"kind": "dirichlet", "value": 0.0, "boundary": [1], "interior": "inverse_elasticity", "mu": 1.0,
               "lmbda": 1.5}, {"kind": "graph", "width": 4, "layers": 1, "linear_skip": True}),
    "green_encoder": ({"family": "CG", "degree": 1, "shape": [2]}, {"family": "CG", "degree": 1, "shape": [2]},
                      {"kind": "inverse_elasticity", "mu": 1.0, "lmbda": 1.5},
                      {"kind": "dirichlet", "value": 0.0, "boundary": [1]},
                      {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1, "linear_skip": True}),
    "green_force": ({"family": "CG", "degree": 1, "shape": [2]}, {"family": "CG", "degree": 1, "shape": [2]},
                    {"kind": "inverse_elasticity", "mu": 1.0, "lmbda": 1.5, "with_source": True},
                    {"kind": "dirichlet", "value": 0.0, "boundary": [1], "interior": "inverse_elasticity", "mu": 1.0,
                     "lmbda": 1.5},
                    {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1, "linear_skip": True}),
    "divergence_free": ({"family": "CG", "degree": 1, "shape": [2]}, {"family": "RT", "degree": 2}, "l2",
                        {"kind": "divergence_free", "no_flux": True}, {"kind": "graph", "width": 4, "layers": 1}),
    "divergence_free_data": ({"family": "CG", "degree": 2}, {"family": "RT", "degree": 2}, "coefficients",
                             {"kind": "divergence_free", "boundary": [1, 3]},
                             {"kind": "graph", "width": 4, "layers": 1, "linear_skip": True}),
    "mixed": ({"family": "CG", "degree": 1, "shape": [2]},
              {"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]},
              "coefficients",
              {"kind": "mixed", "parts": [{"kind": "dirichlet", "value": 0.0}, {"kind": "coefficients"}]},
              {"kind": "mlp", "width": 8}),
    "mixed_mg": ({"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]},
                 {"mixed": [{"family": "CG", "degree": 2, "shape": [2]}, {"family": "CG", "degree": 1}]},
                 "coefficients",
                 {"kind": "mixed", "parts": [{"kind": "dirichlet", "value": 0.0}, {"kind": "coefficients"}]},
                 {"kind": "mg", "width": 4, "coarse_width": 4, "coarse_layers": 1}),
}


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_checkpoint_round_trip_for_every_decoder_kind(tmp_path, kind):
    inp, out, enc, dec, proc = _KINDS[kind]
    model = build_spon({"mesh": MeshSpec("unit_square", 0.4, 1).to_dict(), "input": inp, "output": out,
                        "encoder": enc, "decoder": dec, "processor": proc, "dtype": "float64"})
    x = torch.randn(2, model.encoder.U.dim(), dtype=torch.float64)
    save_checkpoint(model, tmp_path / "m.pt")
    again = load_checkpoint(tmp_path / "m.pt")
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
    assert again.spec["decoder"] == model.spec["decoder"] and again.spec["encoder"] == model.spec["encoder"]


def test_divergence_free_spec_takes_no_flux_or_boundary_data_not_both():
    spec = {"mesh": MeshSpec("unit_square", 0.4, 1).to_dict(), "input": {"family": "CG", "degree": 2},
            "output": {"family": "RT", "degree": 2}, "encoder": "coefficients",
            "decoder": {"kind": "divergence_free", "no_flux": True, "boundary": [1]},
            "processor": {"kind": "graph", "width": 4, "layers": 1}}
    with pytest.raises(ValueError, match="not both"):
        build_spon(spec)
    with pytest.raises(ValueError, match=r"markers \[9\]"):
        build_spon({**spec, "decoder": {"kind": "divergence_free", "boundary": [1, 9]}})
