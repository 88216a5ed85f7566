"""``python -m benchmarks list`` | ``python -m benchmarks run NAME [NAME ...] [options]``.

Options after the names go to every named problem (``--seeds 3``, ``--quick``, ``--threads 2``,
a problem's own ``--epochs``...); ``python -m benchmarks run NAME --help`` shows a problem's options.
"""
import sys

from .problems import PROBLEMS


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "list":
        for p in PROBLEMS.values():
            print(f"{p.name:24s} {p.result:42s} {p.about}")
        return 0
    if argv[0] != "run":
        print(f"expected 'list' or 'run', got {argv[0]!r}", file=sys.stderr)
        return 2
    names = []
    for a in argv[1:]:
        if a.startswith("-"):
            break
        names.append(a)
    options = argv[1 + len(names):]
    unknown = [n for n in names if n not in PROBLEMS]
    if not names or unknown:
        print(f"run: expected problem names among {', '.join(PROBLEMS)}, got {unknown or 'none'}", file=sys.stderr)
        return 2
    for name in names:
        print(f"=== {name}", flush=True)
        PROBLEMS[name].main(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
