"""All-or-nothing output files (atomic.py)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from msc_interop import atomic
from msc_interop.atomic import WRITE_PIECE, atomic_open, atomic_path, paced_open


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
def descriptors_into(folder: Path) -> list[str]:
    """The files under `folder` this process holds open (a removed one reads "... (deleted)").

    Why not a count of /proc/self/fd: another thread of the test worker (pytest-xdist's channel, a collector)
    opens and closes descriptors of its own at any moment, which made a count differ by one in CI."""
    held = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed since the listing
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="open descriptors listed in /proc")
def test_a_bad_mode_closes_the_descriptor(tmp_path: Path) -> None:
    with pytest.raises(ValueError), atomic_open(tmp_path / "x", "wz"):
        pass
    assert descriptors_into(tmp_path) == []
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="open descriptors listed in /proc")
def test_the_descriptor_check_sees_an_open_file(tmp_path: Path) -> None:
    """The check above can fail: a descriptor left open on a removed file under the folder is listed."""
    fd = os.open(tmp_path / "held.part", os.O_CREAT | os.O_WRONLY)
    try:
        os.unlink(tmp_path / "held.part")
        assert descriptors_into(tmp_path) == [f"{tmp_path / 'held.part'} (deleted)"]
    finally:
        os.close(fd)


def test_big_writes_reach_the_kernel_in_small_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PacedFileIO: a write of megabytes goes to the kernel WRITE_PIECE bytes a call (Linux then caches the file
    in small pages, the ones freed lately), and every byte arrives, in binary, text and read-write modes."""
    calls: list[int] = []

    class Counted(atomic.PacedFileIO):
        def write(self, data) -> int:  # type: ignore[override]
            written = super().write(data)  # one write call of the kernel's
            calls.append(written)
            return written

    monkeypatch.setattr(atomic, "PacedFileIO", Counted)
    blob = os.urandom(3 * WRITE_PIECE + 123)
    target = tmp_path / "big.bin"
    with atomic_open(target, "wb") as fh:
        fh.write(blob)
        fh.write(memoryview(np.arange(WRITE_PIECE, dtype=np.int32)))  # a non-byte buffer: its bytes
    assert target.read_bytes() == blob + np.arange(WRITE_PIECE, dtype=np.int32).tobytes()
    assert max(calls) == WRITE_PIECE and sum(calls) == len(blob) + 4 * WRITE_PIECE
    calls.clear()
    text = "é,\"x\"\r\n" * WRITE_PIECE
    with atomic_open(tmp_path / "t.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    assert (tmp_path / "t.csv").read_bytes() == text.encode("utf-8") and max(calls) <= WRITE_PIECE
    calls.clear()
    with paced_open(target, "r+b") as fh:
        fh.seek(10)
        fh.write(b"\0" * (2 * WRITE_PIECE))
    assert target.read_bytes()[:10 + 2 * WRITE_PIECE] == blob[:10] + b"\0" * (2 * WRITE_PIECE)
    assert max(calls) <= WRITE_PIECE and len(target.read_bytes()) == len(blob) + 4 * WRITE_PIECE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="open descriptors listed in /proc")
def test_a_failure_after_the_file_object_owns_the_descriptor_closes_it_once(tmp_path: Path) -> None:
    """A text argument the wrapper refuses: the descriptor is closed by its file object, once (closing it again
    later would close whatever file got the number meanwhile)."""
    try:
        with atomic_open(tmp_path / "x.csv", "w", encoding="no-such-codec"):
            pass
    except LookupError as exc:
        kept = exc  # (its traceback keeps the frames, and so any file object in them, alive)
    assert descriptors_into(tmp_path) == []
    other = open(tmp_path / "other.bin", "wb", buffering=0)  # noqa: SIM115 - closed below
    del kept
    gc.collect()
    other.write(b"x")  # EBADF if a file object had closed this number again
    other.close()
    assert (tmp_path / "other.bin").read_bytes() == b"x" and leftovers(tmp_path) == []


def test_atomic_path_leaves_the_name_free_for_the_writer(tmp_path: Path) -> None:
    """The path atomic_path yields has no file yet, in a folder only this user can write (no one else can put a
    file or link at the name): a writer that writes through its own temporary file renames onto nothing, and the
    block's file is what reaches the target, as an ordinary file; the folder goes."""
    target = tmp_path / "lb.json"
    with atomic_path(target) as tmp:
        assert not tmp.exists() and tmp.name == "lb.json"
        assert tmp.parent.parent == tmp_path and tmp.parent.stat().st_mode & 0o777 == 0o700
        with atomic_open(tmp, "wb") as fh:
            fh.write(b"rows")
    assert target.read_bytes() == b"rows"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["lb.json"]


def test_a_block_that_writes_nothing_is_an_error_naming_the_target(tmp_path: Path) -> None:
    from msc_interop.errors import MscInteropError

    with pytest.raises(MscInteropError, match=r"cannot write .*lb\.json"), atomic_path(tmp_path / "lb.json"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_first_to_sdtm_run_renames_no_file_over_another(example_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """ext4 writes a file out before renaming it over an existing one, even an empty one (its guard for
    replace-by-rename: 0.14 s for a 270 MB Dataset-JSON): writing into a new folder, no rename of a to-sdtm run
    (every format, define.xml, reports) lands on an existing file."""
    from msc_interop import api

    onto_existing: list[str] = []
    real_replace = os.replace

    def spy(src, dst, *args, **kwargs):
        if os.path.exists(dst):
            onto_existing.append(os.path.basename(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    out = tmp_path / "out"
    api.to_sdtm(example_dir, out, formats=["xpt", "json", "ndjson", "csv"], created="2026-01-01T00:00:00")
    assert (out / "json" / "lb.json").is_file() and (out / "xpt" / "lb.xpt").is_file()
    assert onto_existing == []
