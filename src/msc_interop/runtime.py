"""Process-level helpers shared by the readers and writers of every format."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the garbage collector while millions of small objects are made (JSON parsing): ~2x faster.

    The readers make no reference cycles worth collecting meanwhile; the collector runs again afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def gc_frozen() -> Iterator[None]:
    """Keep the collector off the objects that exist now (a loaded study: millions of cells, while it is written;
    the imported modules, while a study is read and built).

    Why: writing makes many short-lived containers, and each full collection would walk every object of the
    study again (~12% of writing a million lab rows); building a study of a million lab rows made two full
    collections of ~0.04 s each. `gc.freeze()` moves what exists to a permanent
    generation; the collector still runs on what is made meanwhile (less often: every 50,000 new containers
    instead of 700), so no cycle is left uncollected.
    The freeze is skipped when something else has frozen objects already (its freeze is not undone here);
    the thresholds are put back as they were.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])  # fewer young collections (~4% more here)
    try:
        if gc.get_freeze_count():
            yield
            return
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
    finally:
        gc.set_threshold(*thresholds)


# glibc's mallopt parameter M_MMAP_THRESHOLD (malloc.h)
_M_MMAP_THRESHOLD = -3


def return_freed_memory() -> bool:
    """Have glibc give large freed blocks back to the system at once (a fixed 128 KiB mmap threshold).

    Why: glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which blocks of
    that size come from the heap and stay in the process when freed. A command that reads a dataset a range at
    a time frees a few MB per range; with the moving threshold the process kept ~70% more than it used (summary
    of 1M LB rows: 674 -> 629 MB peak, 583 -> 408 MB after the lab tables). False where there is no glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024))
    except (OSError, AttributeError):
        return False


def small_pages() -> bool:
    """Stop numpy asking the kernel for transparent huge pages (madvise) for its large arrays; return whether
    it had been asking.

    Why: on a virtual machine whose memory the host backs on first touch (Firecracker here), a huge page's
    first touch costs ~14x as much as the same memory in 4 KiB pages (200 MB: 1.3 s against 0.09 s), and a
    conversion touches new memory all the time (to-sdtm of 1M lab rows: 20.4 -> 18.5 s, same peak RSS). Where
    huge pages are cheap the difference is a few TLB misses. NUMPY_MADVISE_HUGEPAGE=1 keeps numpy's default.
    """
    import os

    import numpy as np

    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") == "1":
        return False
    try:
        return bool(np._core.multiarray._set_madvise_hugepage(False))
    except AttributeError:  # a numpy without the switch
        return False


def trim_freed_memory() -> bool:
    """Give the memory freed so far back to the system (glibc malloc_trim); False where there is no glibc.

    Why: building a study frees most of what reading the records took, but glibc keeps freed heap memory below
    the newest live block: after to-sdtm had built 1M lab rows the process held 910 MB of which 350 MB was in
    use, and writing and validating then peaked on top of that. A trim costs milliseconds.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0))
    except (OSError, AttributeError):
        return False


def keep_python_strings() -> None:
    """Keep pandas' inferred text ("str" columns) in Python objects, as pandas does without pyarrow.

    Why: pandas 3 stores inferred text in Arrow when pyarrow is installed (mode.string_storage "auto"), and
    msc-interop needs pyarrow (records/csv_arrow.py). Its columns are object arrays worked on their distinct
    values (distinct.py); in Arrow storage every frame made of them converts each column (seen: from-fhir's memory
    per Observation 2150 bytes, over its 2000-byte bound; equal strings no longer one object in summary). Set on
    import where the option is at its default; a user's explicit choice is kept.
    """
    import pandas as pd

    try:
        if pd.get_option("mode.string_storage") == "auto":
            pd.set_option("mode.string_storage", "python")
    except (KeyError, ValueError):  # pragma: no cover - a pandas without the option or the value
        pass
