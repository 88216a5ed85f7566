"""Atomic file writes: write to a temporary file beside the target, then rename."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path in the target's folder; rename it to ``path`` if the
    block succeeds, delete it otherwise. Readers never see a half-written file.

    >>> with atomic_path("/tmp/spon-example.txt") as tmp:
    ...     _ = open(tmp, "w").write("done")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd_, tmp = tempfile.mkstemp(suffix=suffix, dir=path.parent)
    os.close(fd_)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
