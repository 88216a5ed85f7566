"""The SPON paper's problems beyond Darcy, each a section of ``benchmarks/results/spon_paper.json``.

A driver kept for the commands recorded in the README and the issue notes: ``--sections`` picks the
problems (default: all), every other option goes to each of them. The problems live in
``benchmarks/problems/`` (``python -m benchmarks run NAME`` runs one)::

    python -m benchmarks.spon_paper --sections hyperelasticity,stokes_divfree --quick
"""
import argparse
import sys

from .problems import PROBLEMS

SECTIONS = {"hyperelasticity": "hyperelasticity", "stokes_divfree": "stokes", "poisson3d": "poisson3d",
            "dfg_2d1": "dfg_2d1", "navier_stokes_steady": "navier_stokes_steady",
            "navier_stokes_rollout": "navier_stokes_rollout"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}")
    a, rest = p.parse_known_args(argv)
    for name in a.sections.split(","):
        if name not in SECTIONS:
            raise SystemExit(f"--sections: expected some of {','.join(SECTIONS)}, got {name!r}")
    return {name: PROBLEMS[SECTIONS[name]].main(rest) for name in a.sections.split(",")}


if __name__ == "__main__":
    main(sys.argv[1:])
