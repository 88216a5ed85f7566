"""Atomic file writes: write to a temporary file beside the target, fsync, then rename.

After a crash a reader sees either the old file or the whole new one, never a
half-written file: the data is flushed to disk before the rename, and the
folder is flushed after it so the rename itself survives.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_json"]


def _fsync(path, directory: bool = False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path in the target's folder; rename it to ``path`` if the
    block succeeds, delete it otherwise. Readers never see a half-written file.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = pathlib.Path(tmp).write_text("done")
    >>> target.read_text()
    'done'
    >>> try:
    ...     with atomic_path(target) as tmp:
    ...         _ = pathlib.Path(tmp).write_text("half")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done', ['out.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd_, tmp = tempfile.mkstemp(suffix=suffix, dir=path.parent)
    os.close(fd_)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def atomic_write_json(path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (nothing is written if it does not serialise).

    >>> import tempfile, pathlib
    >>> p = atomic_write_json(pathlib.Path(tempfile.mkdtemp()) / "m.json", {"rel": 0.5})
    >>> json.loads(p.read_text())
    {'rel': 0.5}
    """
    return atomic_write_text(path, json.dumps(obj, indent=indent))
