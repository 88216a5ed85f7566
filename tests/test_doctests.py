"""The runnable examples in docstrings stay true."""
import doctest
import importlib

import pytest

pytest.importorskip("firedrake")

MODULES = ["spon.multiscale.materials", "spon.multiscale.laminate", "spon.multiscale.micro",
           "spon.mesh.meshio_io", "spon.mesh.gmsh_io"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
