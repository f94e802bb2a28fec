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
