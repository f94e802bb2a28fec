"""A function run in a forked child process while this one goes on; its result read back when wanted.

Why: a built study is read-only from then on, so a fork shares it (copy-on-write: reading the columns copies
nothing) and two independent jobs on it (to-sdtm writing its dataset files, and the SDTM rules on the Study in
memory) use two cores instead of one. Only where fork is safe with numpy and friends loaded: Linux (macOS's
system libraries are not fork-safe; Windows has no fork), with two cores or more for this process.
`MSC_INTEROP_ONE_PROCESS=1` turns it off (everything in one process, as on other systems).
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import traceback
from collections.abc import Callable
from typing import Any


def can_fork() -> bool:
    """Whether forked work can run beside this process here (see the module docstring)."""
    if os.environ.get("MSC_INTEROP_ONE_PROCESS") == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except (AttributeError, OSError):  # pragma: no cover - Linux has it
        return False


def _die_with_parent(parent: int) -> None:
    """Linux prctl(PR_SET_PDEATHSIG, SIGKILL): a child whose parent was killed stops too, instead of finishing
    files the parent will never describe (its temporary files are removed by the next run: atomic.py)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # (not Linux's libc: nothing to ask)
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent went before the request was made
        os._exit(1)


class ForkedFailure(Exception):
    """The forked function raised (its traceback, as text, is the message) or the child died."""


class Forked:
    """fn() run in a forked child from construction on; `result()` waits for it and returns what it returned
    (picklable), or raises ForkedFailure. The child leaves with os._exit: no atexit handler, no buffered output
    of this process is run or written twice."""

    def __init__(self, fn: Callable[[], Any]):
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child
            status = 1
            try:
                os.close(read_end)
                _die_with_parent(parent)
                gc.disable()  # short-lived: a collection would walk (so write, so copy) the pages of every object
                try:
                    payload = pickle.dumps(("ok", fn()), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # (everything goes back to the parent, which decides)
                    payload = pickle.dumps(("error", traceback.format_exc()), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_end, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid: int | None = pid
        self._read_end = read_end

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc: object) -> None:
        """Wait for a child whose result was not asked for (this process failed meanwhile): no zombie, no pipe
        left open."""
        if self._pid is not None:
            with os.fdopen(self._read_end, "rb") as pipe:
                pipe.read()
            os.waitpid(self._pid, 0)
            self._pid = None

    def result(self) -> Any:
        """What fn() returned in the child (waits for it)."""
        if self._pid is None:
            raise RuntimeError("Forked.result() asked twice")
        with os.fdopen(self._read_end, "rb") as pipe:
            payload = pipe.read()  # (to the end: the child may block on a full pipe until it is read)
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if not payload:
            raise ForkedFailure(f"the forked process ended without a result (wait status {status})")
        kind, value = pickle.loads(payload)
        if kind != "ok":
            raise ForkedFailure(value)
        return value
