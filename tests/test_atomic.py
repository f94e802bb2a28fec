"""All-or-nothing output files (atomic.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from msc_interop.atomic import atomic_open, atomic_path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_written_file_replaces_the_target_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.ndjson"
    with atomic_open(target, "wb") as fh:
        assert isinstance(fh.name, int)  # written through mkstemp's descriptor, not reopened (and truncated)
        fh.write(b"one\n")
        assert not target.exists()  # nothing under the target's name until the block ends
    assert target.read_bytes() == b"one\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert leftovers(target.parent) == []


def test_an_error_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "dm.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write("half of the new")
        raise RuntimeError("stopped")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="open descriptors listed in /proc")
def test_a_bad_mode_closes_the_descriptor(tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ValueError), atomic_open(tmp_path / "x", "wz"):
        pass
    assert len(os.listdir("/proc/self/fd")) == before
    assert leftovers(tmp_path) == []
