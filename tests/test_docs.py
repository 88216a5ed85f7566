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


_OUTSIDE = re.compile(r'<(?:script|link)\b[^>]*?(?:src|href)="((?:[a-z][a-z0-9+.-]*:)?//[^"]+)"', re.I)


def outside_assets(html_dir):
    """``{page: [URLs]}`` of scripts and stylesheets a page loads from outside the build."""
    found = {}
    for page in Path(html_dir).rglob("*.html"):
        tags = re.findall(r"<(?:script|link)\b[^>]*>", page.read_text(errors="replace"), re.I)
        urls = [m.group(1) for t in tags if (m := _OUTSIDE.search(t))
                and (t.lower().startswith("<script") or "stylesheet" in t.lower() or "preload" in t.lower())]
        if urls:
            found[str(page.relative_to(html_dir))] = sorted(set(urls))
    return found


def math_renderers(html_dir):
    """The ``src`` of every MathJax script the pages load, relative to the build root, and whether it exists."""
    found = {}
    for page in Path(html_dir).rglob("*.html"):
        for src in re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', page.read_text(errors="replace"), re.I):
            target = (page.parent / src.split("?")[0]).resolve()
            found[str(page.relative_to(html_dir)), src] = target.is_file() and Path(html_dir).resolve() in target.parents
    return found


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


def test_scripts_from_outside_the_build_are_found(tmp_path):
    site = _fake_site(tmp_path, '<script defer="defer" src="https://cdn.example.org/mathjax/tex-mml-chtml.js">'
                                '</script><link rel="stylesheet" href="//fonts.example.org/a.css">')
    assert outside_assets(site) == {"gallery/demo.html": ["//fonts.example.org/a.css",
                                                          "https://cdn.example.org/mathjax/tex-mml-chtml.js"]}
    local = _fake_site(tmp_path / "local", '<script src="../_static/mathjax/tex-mml-chtml.js"></script>'
                                           '<a href="https://example.org">a link is fine</a>')
    assert outside_assets(local) == {}
    assert math_renderers(local) == {("gallery/demo.html", "../_static/mathjax/tex-mml-chtml.js"): False}


def test_built_pages_load_nothing_from_outside(built_docs):
    assert outside_assets(built_docs) == {}


def test_built_pages_load_the_math_renderer_from_the_build(built_docs):
    found = math_renderers(built_docs)
    assert found, "expected MathJax on the pages with equations"
    assert all(found.values()), [k for k, ok in found.items() if not ok]
    assert (built_docs / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_built_pages_show_no_machine_paths(built_docs):
    assert machine_paths(built_docs) == {}


def test_every_gallery_page_has_a_figure(built_docs):
    pages = [p for g in GALLERIES for p in (built_docs / g).glob("*.html") if p.name != "index.html"]
    assert len(pages) >= 12, "expected the 8 tutorials and 4 how-to guides"
    assert gallery_pages_without_figures(built_docs) == []


def test_howto_guides_exist(built_docs):
    for name in ("byo_mesh_spaces", "choose_components", "fe2_own_rve", "physics_only"):
        assert (built_docs / "howto" / f"{name}.html").is_file(), name
