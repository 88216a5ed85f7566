"""Every docstring example in spon/ runs with the test suite, so examples stay true."""
import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pytest_collects_the_doctests_of_spon():
    opts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in opts["addopts"].split()
    assert "spon" in opts["testpaths"]


def test_examples_are_in_docstrings_that_doctest_finds():
    """A ``>>>`` outside a module, class or function docstring would never run."""
    stray = []
    for path in sorted((ROOT / "spon").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docs = set()
        for node in [tree, *ast.walk(tree)]:
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                d = ast.get_docstring(node, clean=False)
                if d:
                    docs.add(d)
        n_all = path.read_text().count(">>>")
        n_doc = sum(d.count(">>>") for d in docs)
        if n_all != n_doc:
            stray.append(f"{path.relative_to(ROOT)}: {n_all - n_doc} example line(s) outside docstrings")
    assert not stray, stray
