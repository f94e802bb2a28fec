"""Write files all-or-nothing: write to a temporary file beside the target, then rename.

A reader of the output folder never sees a half-written dataset, even if the process is killed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto the target if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces `target` only when the block finishes without error."""
    with atomic_path(target) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(target, "wb") as fh:
        fh.write(data)
