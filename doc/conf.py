"""Sphinx configuration for spon."""
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PETSC_OPTIONS", "-options_left no")  # the gallery's argv is for the demos, not PETSc
DOC = Path(__file__).resolve().parent
sys.path.insert(0, str(DOC.parent))
sys.path.insert(0, str(DOC))

from gallery_settings import SmallSettings  # noqa: E402
import tqdm.std  # noqa: E402

# progress bars are for terminals; captured on a page each is hundreds of lines
_tqdm_init = tqdm.std.tqdm.__init__


def _quiet_tqdm(self, *args, **kwargs):
    kwargs["disable"] = True
    _tqdm_init(self, *args, **kwargs)


tqdm.std.tqdm.__init__ = _quiet_tqdm

project = "spon"
author = "the spon developers"
copyright = "2026, the spon developers"
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "sphinx.ext.viewcode",
              "sphinx.ext.intersphinx", "sphinx_gallery.gen_gallery"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"
exclude_patterns = ["_build", "**/GALLERY_HEADER.rst", "inventories"]

# no network at build time: the inventories are stored (doc/inventories/make_inventories.py)
intersphinx_mapping = {
    "firedrake": ("https://www.firedrakeproject.org/", str(DOC / "inventories" / "firedrake.inv")),
    "torch": ("https://docs.pytorch.org/docs/stable/", str(DOC / "inventories" / "torch.inv")),
}
intersphinx_timeout = 1

# every demo and how-to runs in the build, with the small settings of gallery_settings.py
sphinx_gallery_conf = {
    "examples_dirs": ["../demos", "howto_src"],
    "gallery_dirs": ["gallery", "howto"],
    "filename_pattern": r".*\.py",
    "ignore_pattern": r"__init__\.py",
    "reset_argv": SmallSettings(),
    "abort_on_example_error": True,
    "capture_repr": (),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "matplotlib_animations": False,
    # its tables load jQuery, DataTables and Bootstrap from CDNs: no page may load anything from outside
    "write_computation_times": False,
}

html_theme = "furo"
html_title = "spon"
html_static_path = []

# the math renderer ships with the pages (MathJax 3 from the django-static-mathjax wheel, a docs extra):
# a compute node or CI machine without a network shows the equations too
MATHJAX_FILES = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2")
mathjax_path = "mathjax/tex-mml-chtml.js"


def _mathjax_es5() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5" if spec else None
    if es5 is None or not (es5 / MATHJAX_FILES[0]).is_file():
        raise RuntimeError("MathJax not found: install the docs extra (pip install -e '.[docs]')")
    return es5


def _copy_mathjax(app, exc):
    import shutil

    if exc is not None or app.builder.format != "html":
        return
    es5, dest = _mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    for rel in MATHJAX_FILES:
        src = es5 / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, dirs_exist_ok=True)
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def setup(app):
    _mathjax_es5()          # fail early, not after the gallery has run
    app.connect("build-finished", _copy_mathjax)
