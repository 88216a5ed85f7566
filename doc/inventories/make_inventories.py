"""Write the intersphinx inventories of Firedrake and PyTorch that the docs build reads.

The docs build has no network, so the inventories are stored here. They are
made from the installed packages (the versions spon pins): every public class
and function of the modules below, under its import name and its defining
module's name, with the address of its page in the project's online docs.

    python doc/inventories/make_inventories.py
"""
import importlib
import inspect
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

FIREDRAKE_MODULES = ["firedrake", "firedrake.pyplot", "firedrake.output", "firedrake.adjoint", "pyadjoint"]
TORCH_MODULES = ["torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch.optim.lr_scheduler",
                 "torch.utils.data", "torch.sparse", "torch.func", "torch.autograd", "torch.linalg",
                 "torch.distributed", "torch.nn.parallel"]


def _public(module):
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name, None)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            yield name, obj


def _role(obj):
    return "py:class" if inspect.isclass(obj) else "py:function"


def firedrake_entries():
    """firedrake's API pages are per package (sphinx-apidoc): ``firedrake.mg.html#firedrake.mg.mesh.X``."""
    rows = {}
    for modname in FIREDRAKE_MODULES:
        mod = importlib.import_module(modname)
        for name, obj in _public(mod):
            owner = getattr(obj, "__module__", "") or ""
            if not owner.split(".")[0] in ("firedrake", "pyadjoint", "ufl"):
                continue
            if owner.startswith("ufl"):
                continue                            # UFL has its own docs
            canonical = f"{owner}.{obj.__qualname__}"
            package = owner if owner.count(".") == 0 else owner.rsplit(".", 1)[0]
            root = "https://www.firedrakeproject.org/" if owner.startswith("firedrake") else \
                "https://www.dolfin-adjoint.org/en/latest/documentation/api/"
            uri = f"{package}.html#{canonical}" if owner.startswith("firedrake") else f"pyadjoint.html#{canonical}"
            for alias in {canonical, f"{modname}.{name}"}:
                rows[alias] = (_role(obj), root + uri)
        rows[modname] = ("py:module", (root if modname.startswith("firedrake") else
                                       "https://www.dolfin-adjoint.org/en/latest/documentation/api/")
                         + f"{modname if modname.count('.') < 2 else modname.rsplit('.', 1)[0]}.html")
    return rows


def torch_entries():
    """PyTorch's API pages are one per object: ``generated/torch.nn.Module.html``."""
    root = "https://docs.pytorch.org/docs/stable/"
    rows = {"torch.Tensor": ("py:class", root + "tensors.html#torch.Tensor")}
    for name in dir(__import__("torch").Tensor):
        if not name.startswith("_"):
            rows[f"torch.Tensor.{name}"] = ("py:method", root + f"generated/torch.Tensor.{name}.html")
    for modname in TORCH_MODULES:
        mod = importlib.import_module(modname)
        rows[modname] = ("py:module", root + f"{modname.replace('torch.', '', 1) if modname != 'torch' else 'torch'}"
                         ".html")
        for name, obj in _public(mod):
            full = f"{modname}.{name}"
            if full not in rows:
                rows[full] = (_role(obj), root + f"generated/{full}.html#{full}")
    return rows


def write(path, project, version, rows):
    head = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
            "# The remainder of this file is compressed using zlib.\n")
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, (role, uri) in sorted(rows.items()))
    path.write_bytes(head.encode() + zlib.compress(body.encode()))
    print(f"{path.name}: {len(rows)} entries")


def main():
    import firedrake
    import torch
    write(HERE / "firedrake.inv", "Firedrake", getattr(firedrake, "__version__", "2026.10.0"), firedrake_entries())
    write(HERE / "torch.inv", "PyTorch", torch.__version__.split("+")[0], torch_entries())


if __name__ == "__main__":
    main()
