"""Checks of the built documentation: no paths of the build machine, a figure on every gallery page.

The checks run on a synthetic page here (so they can fail), and on the real
build when ``--built-docs`` is given (``make docs`` does).
"""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GALLERIES = ("gallery", "howto")


def machine_paths(html_dir, roots=None):
    """``{page: [absolute paths of this machine it shows]}`` over every HTML page."""
    roots = roots or [str(ROOT), os.path.expanduser("~"), "/tmp/"]
    pattern = re.compile("|".join(re.escape(r.rstrip("/")) + r"/[\w.\-/]*" for r in roots))
    found = {}
    for page in Path(html_dir).rglob("*.html"):
        hits = sorted(set(pattern.findall(page.read_text(errors="replace"))))
        if hits:
            found[str(page.relative_to(html_dir))] = hits
    return found


def gallery_pages_without_figures(html_dir):
    """Gallery pages (not their index) that show no figure the example drew."""
    missing = []
    for gallery in GALLERIES:
        for page in sorted((Path(html_dir) / gallery).glob("*.html")):
            if page.name in ("index.html", "sg_execution_times.html"):
                continue
            if not re.search(r'<img[^>]+src="[^"]*sphx_glr_[^"]+\.png"', page.read_text(errors="replace")):
                missing.append(f"{gallery}/{page.name}")
    return missing


def _fake_site(tmp_path, body):
    (tmp_path / "gallery").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<html>spon</html>")
    (tmp_path / "gallery" / "index.html").write_text("<html>gallery</html>")
    (tmp_path / "gallery" / "demo.html").write_text(f"<html>{body}</html>")
    return tmp_path


def test_machine_paths_are_found(tmp_path):
    site = _fake_site(tmp_path, f"<pre>wrote {ROOT}/results/x.png</pre>")
    assert machine_paths(site) == {"gallery/demo.html": [f"{ROOT}/results/x.png"]}
    clean = _fake_site(tmp_path / "clean", "<pre>wrote x.png to the output folder</pre>")
    assert machine_paths(clean) == {}


def test_pages_without_figures_are_found(tmp_path):
    site = _fake_site(tmp_path, "<p>no figure</p>")
    assert gallery_pages_without_figures(site) == ["gallery/demo.html"]
    ok = _fake_site(tmp_path / "ok", '<img src="../_images/sphx_glr_demo_001.png" alt="">')
    assert gallery_pages_without_figures(ok) == []


def test_built_pages_show_no_machine_paths(built_docs):
    assert machine_paths(built_docs) == {}


def test_every_gallery_page_has_a_figure(built_docs):
    pages = [p for g in GALLERIES for p in (built_docs / g).glob("*.html") if p.name != "index.html"]
    assert len(pages) >= 12, "expected the 8 tutorials and 4 how-to guides"
    assert gallery_pages_without_figures(built_docs) == []


def test_howto_guides_exist(built_docs):
    for name in ("byo_mesh_spaces", "choose_components", "fe2_own_rve", "physics_only"):
        assert (built_docs / "howto" / f"{name}.html").is_file(), name
