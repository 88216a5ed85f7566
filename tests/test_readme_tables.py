"""The README's results tables are what ``benchmarks/table.py`` prints from ``benchmarks/results/``."""
import json
from pathlib import Path

import pytest

from benchmarks import table

ROOT = Path(__file__).resolve().parents[1]
README_TABLES = ("darcy", "spon_paper", "equino_small_strain", "dns", "scaling", "accuracy", "step_speed",
                 "fe2_finite_strain", "fe2_3d", "dns_finite_strain")


def _rows(text):
    return [line for line in text.splitlines() if line.startswith("|")]


@pytest.mark.parametrize("name", README_TABLES)
def test_readme_table_is_the_printed_one(name):
    printed = _rows(getattr(table, name)(json.loads((table.RESULTS / f"{name}.json").read_text())))
    readme = set(_rows((ROOT / "README.md").read_text()))
    assert printed and [r for r in printed if r not in readme] == []


def test_a_changed_number_is_caught():
    d = json.loads((table.RESULTS / "dns.json").read_text())
    n = next(iter(d["dns"]))
    d["dns"][n]["reference_fe2_rel_err_final"] += 0.01
    readme = set(_rows((ROOT / "README.md").read_text()))
    assert any(r not in readme for r in _rows(table.dns(d)))
