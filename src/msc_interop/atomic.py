"""Write files all-or-nothing: write to a temporary file beside the target, then rename.

A reader of the output folder never sees a half-written dataset, even if the process is killed. A killed
process leaves its temporary files (or atomic_path's private folders) behind (`.<target name>.<pid>.<random>.part`);
`remove_stale_parts`, run by each command on its output folder before writing, removes those whose process is gone.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from msc_interop.errors import MscInteropError

# Our temporary names: mkstemp's 8 random characters after the target's name and our process id (names made
# before the process id was added have none; they count as stale).
_PART = re.compile(r"^\.(?P<target>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.part$")
# the scratch folder of a run that works a subject partition at a time (sdtm/partitioned.py scratch_folder): as big
# as its input; left behind only when the process was killed outright
WRITE_PIECE = 64 << 10  # bytes a write call hands the kernel at most (PacedFileIO)
SCRATCH_PREFIX = ".msc-partitions."
_SCRATCH = re.compile(r"^\.msc-partitions\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}$")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a path with no file there yet, inside a private temporary folder beside the target; what the block
    writes at it is renamed onto the target if the block succeeds (the folder is removed either way).

    No file yet: a writer that itself writes through a temporary file (atomic_open) renames onto nothing, and one
    that opens the path creates it. On ext4 a rename over an existing file, even an empty one, starts the writeback
    of the renamed file first (its guard for replace-by-rename): 0.14 s for a 270 MB Dataset-JSON, on the critical
    path of to-sdtm. A private folder (mkdtemp: mode 0700) so that no other user can put a file or a link at the
    path before the writer opens it, as a freed name in a shared folder would let them."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".part", dir=target.parent))
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    tmp_path = folder / target.name
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # (as an ordinary file, whoever created it)
        os.replace(tmp_path, target)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _temporary(target: str | os.PathLike[str]) -> Iterator[tuple[int, Path]]:
    """A new temporary file beside `target` (open descriptor and path), renamed onto it on success. The
    caller owns the descriptor: it closes it (or hands it to a file object that does) inside the block."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    tmp_path = Path(tmp)
    try:
        yield fd, tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise _cannot_write(target, exc) from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _cannot_write(target: Path, exc: OSError) -> MscInteropError:
    """An output that cannot be written (a file where a folder should be, no space, no permission): exit 2,
    naming the output, not an internal error."""
    return MscInteropError(f"cannot write {target}: {exc.strerror or exc}"
                           + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target) else ""))


def remove_stale_parts(folder: str | os.PathLike[str], depth: int = 1) -> list[Path]:
    """Remove the temporary files an interrupted run left in `folder` (and its subfolders `depth` levels
    down), and its scratch folders (`_SCRATCH`): only names of our patterns whose process is no longer running.
    Returns what it removed.

    A temporary file of a run still writing into the same folder (its process alive) is kept."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    except OSError as exc:
        raise _cannot_write(folder, exc) from exc
    for entry in sorted(entries, key=lambda e: e.name):
        scratch = _SCRATCH.match(entry.name)
        if scratch and entry.is_dir(follow_symlinks=False) and not _running(scratch.group("pid")):
            removed += _removed_folder(entry.path)
            continue
        part = _PART.match(entry.name)
        if part and entry.is_dir(follow_symlinks=False) and not _running(part.group("pid")):  # (atomic_path's)
            removed += _removed_folder(entry.path)
            continue
        if entry.is_dir(follow_symlinks=False):
            if depth > 0 and not entry.name.startswith("."):
                removed += remove_stale_parts(entry.path, depth - 1)
            continue
        m = _PART.match(entry.name)
        if m and entry.is_file(follow_symlinks=False) and not _running(m.group("pid")):
            with contextlib.suppress(FileNotFoundError):  # another run removed it meanwhile
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _removed_folder(path: str) -> list[Path]:
    """[path] once the folder and what it holds are gone; [] when it could not be removed (not ours to remove, in
    use): a run says it removed only what it did."""
    shutil.rmtree(path, ignore_errors=True)
    return [] if os.path.lexists(path) else [Path(path)]


def _running(pid: str | None) -> bool:
    """Whether process `pid` exists (on POSIX; elsewhere every process-named file is kept)."""
    if pid is None:
        return False
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or a number no process can have: keep it, to be safe)
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces `target` only when the block finishes without error.

    The new file is written through the descriptor mkstemp made: opening it again by name truncates it, and
    ext4 then writes a truncated file out to disk when it is closed (its guard for rewrite-in-place),
    which cost 1.3 s at the close of a 2 GB NDJSON file here.
    """
    with _temporary(target) as (fd, _):
        try:
            raw = PacedFileIO(fd, _raw_mode(mode))
        except BaseException:
            os.close(fd)  # (the file object never owned it)
            raise
        with _wrapped(raw, mode, **kwargs) as fh:
            yield fh


class PacedFileIO(io.FileIO):
    """A file that hands the kernel at most WRITE_PIECE bytes a write call (BufferedWriter loops over a partial
    write until all is written).

    Why: Linux (6.x, ext4) caches a file written in big calls in large folios, and a large folio needs free
    memory in one contiguous block: on a virtual machine whose memory the host backs on first touch
    (Firecracker here) that is often memory never touched before, ~12 ms a megabyte. Written in 64 KiB calls
    the pages are the ones freed lately. benchmarks/page_cache_writes.py, 270 MB to new files: 3.3-3.7 s in 4 MB
    calls, 0.06-0.07 s in 64 KiB calls; to-sdtm of 1M lab rows, whole run: json 7.3-8.1 -> 5.2-5.5 s, xpt
    8.3-9.6 -> 5.3-6.7 s (benchmarks/README.md, eighth round). Elsewhere the calls cost microseconds a megabyte.
    """

    def write(self, data) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        return super().write(view[:WRITE_PIECE]) if len(view) > WRITE_PIECE else super().write(view)


def paced_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs) -> IO:
    """open() for writing, through PacedFileIO: "wb", "r+b" (binary) or "w" (text, with open's text
    arguments: encoding, newline, errors)."""
    return _wrapped(PacedFileIO(path, _raw_mode(mode)), mode, **kwargs)


def _raw_mode(mode: str) -> str:
    if mode not in ("wb", "r+b", "w", "wt"):
        raise ValueError(f"invalid mode for writing an output: {mode!r} (wb, r+b or w)")
    return mode.replace("b", "").replace("t", "")


def _wrapped(raw: PacedFileIO, mode: str, **kwargs) -> IO:
    """The buffered (binary) or text file object over `raw`, as open() would make it; `raw` closed if that fails."""
    try:
        if "b" in mode and kwargs:
            raise ValueError(f"binary mode takes no text arguments ({', '.join(kwargs)})")
        buffered = io.BufferedRandom(raw) if "+" in mode else io.BufferedWriter(raw)
        if "b" in mode:
            return buffered
        text = io.TextIOWrapper(buffered, **kwargs)
        text.mode = mode
        return text
    except BaseException:
        raw.close()
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(target, "wb") as fh:
        fh.write(data)
