"""A function run in a forked child process while this one goes on; its result read back when wanted.

Why: a built study is read-only from then on, so a fork shares it (copy-on-write: reading the columns copies
nothing) and two independent jobs on it (to-sdtm writing its dataset files, and the SDTM rules on the Study in
memory) use two cores instead of one. Only where fork is safe with numpy and friends loaded: Linux (macOS's
system libraries are not fork-safe; Windows has no fork), with two cores or more for this process.
`MSC_INTEROP_ONE_PROCESS=1` turns it off (everything in one process, as on other systems).
With `inbox=True` the parent can send the child one value after the fork (to-sdtm: the define.xml documents the
child checks after writing the files), so that neither makes what the other has.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO


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
    import ctypes

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

    def __init__(self, fn: Callable[..., Any], *, inbox: bool = False):
        """Raises OSError where the system cannot fork now (memory, a process limit): the caller works alone.
        `inbox`: fn(received) is called with a function that waits for what this process `send`s it (once): what
        this process makes meanwhile (to-sdtm: define.xml) is handed over instead of being made twice."""
        sys.stdout.flush()  # (before any descriptor is opened: a failing flush leaves none behind)
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        try:
            in_read, in_write = os.pipe() if inbox else (-1, -1)
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        outbox = _memory_file()
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            for fd in (read_end, write_end, in_read, in_write, outbox):
                if fd >= 0:
                    os.close(fd)
            raise
        if pid == 0:  # the child
            status = 1
            try:
                os.close(read_end)
                if inbox:
                    os.close(in_write)
                _die_with_parent(parent)
                gc.disable()  # short-lived: a collection would walk (so write, so copy) the pages of every object
                try:
                    result = fn(_receiver(in_read)) if inbox else fn()
                    payload = pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # (everything goes back to the parent, which decides)
                    payload = pickle.dumps(("error", traceback.format_exc()), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_end, "wb") as out:
                    out.write(_IN_OUTBOX if outbox >= 0 and _put(outbox, payload) else payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        if inbox:
            os.close(in_read)
        self._pid: int | None = pid
        self._pipe: BinaryIO | None = os.fdopen(read_end, "rb")
        self._outbox = outbox
        self._inbox = in_write  # (-1: none, or sent)
        self._sender: threading.Thread | None = None

    def send(self, value: Any) -> None:
        """Hand `value` (picklable) to the child's `received()`, once; written by a thread, so that this process
        goes on while the child is still busy (a pipe holds 64 KB until it is read)."""
        if self._inbox < 0:
            raise RuntimeError("Forked.send: no inbox, or sent already")
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)  # (first: a value that does not pickle
        out = os.fdopen(self._inbox, "wb")  # leaves the inbox open, closed by _finish)
        self._inbox = -1

        def write() -> None:
            with contextlib.suppress(OSError), out:  # (the child gone: nobody to tell)
                out.write(payload)

        sender = threading.Thread(target=write, name="msc-interop-send", daemon=True)
        try:
            sender.start()
        except BaseException:  # (no thread now: the child sees the end of its inbox)
            out.close()
            raise
        self._sender = sender

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """The child waited for when its result was not asked (no zombie, no pipe left open); stopped first when
        this process is failing (an exception, Ctrl-C): its files are not wanted then."""
        if self._pid is not None:
            self._finish(stop=exc_type is not None)
        if self._outbox >= 0:  # (a result never asked for)
            os.close(self._outbox)
            self._outbox = -1

    def result(self) -> Any:
        """What fn() returned in the child (waits for it)."""
        if self._pid is None:
            raise RuntimeError("Forked.result() asked twice")
        payload, status = self._finish(stop=False)
        if not payload:
            raise ForkedFailure(f"the forked process ended without a result (wait status {status})")
        if payload == _IN_OUTBOX:
            kind, value = self._from_outbox()
        else:
            kind, value = pickle.loads(payload)
        if kind != "ok":
            raise ForkedFailure(value)
        return value

    def _from_outbox(self) -> Any:
        """What the child put in the memory file, unpickled from its pages (mapped: no copy of them first)."""
        fd, self._outbox = self._outbox, -1
        try:
            size = os.fstat(fd).st_size
            with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as pages:
                return pickle.loads(pages)
        finally:
            os.close(fd)

    def _finish(self, stop: bool) -> tuple[bytes, int]:
        """(what the child sent, its wait status); the child reaped and the pipe closed whatever happens here
        (an interrupt while reading stops the child rather than wait for it)."""
        assert self._pid is not None and self._pipe is not None
        pid, pipe = self._pid, self._pipe
        payload, status = b"", 0
        if self._inbox >= 0:  # never sent, and nothing will be now: the child's received() sees the end
            os.close(self._inbox)
            self._inbox = -1
        try:
            if stop:
                _stop(pid)
            else:
                payload = pipe.read()  # (to the end: the child may block on a full pipe until it is read)
        except BaseException:
            _stop(pid)
            raise
        finally:
            self._pid = self._pipe = None
            pipe.close()
            _, status = os.waitpid(pid, 0)
            if self._outbox >= 0 and payload != _IN_OUTBOX:  # (not to be read: closed now)
                os.close(self._outbox)
                self._outbox = -1
            if self._sender is not None:  # (done, or stopped by the child's end)
                self._sender.join()
                self._sender = None
        return payload, status


_IN_OUTBOX = b"outbox"  # what the child writes to the pipe when its result is in the memory file (a pickle
# starts with b"\x80": never this)
_PUT_BYTES = 1 << 20  # bytes written to the memory file a call at a time


def _memory_file() -> int:
    """An anonymous memory file (Linux memfd) for the child's result, or -1. Why: a pipe carried a 71 MB result
    (half of a study's datasets, sdtm/load_in_two.py) in 0.27 s, 64 KB at a time while both processes ran; the
    child writes the file in ~0.03 s and this process unpickles its pages where they are."""
    try:
        return os.memfd_create("msc-interop-forked", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or no memfd here: the pipe carries it
        return -1


def _put(fd: int, payload: bytes) -> bool:
    """`payload` written to the memory file (False: it could not be: the pipe carries it instead)."""
    view, at = memoryview(payload), 0
    try:
        while at < len(view):
            at += os.write(fd, view[at:at + _PUT_BYTES])
    except OSError:
        return False
    return True


def _receiver(fd: int) -> Callable[[], Any]:
    """The child's received(): what the parent sent (Forked.send), read to the end of the inbox pipe, once."""
    got: list[Any] = []

    def received() -> Any:
        if not got:
            got.append(_received(fd))
        return got[0]

    return received


def _received(fd: int) -> Any:
    with os.fdopen(fd, "rb") as inbox:
        payload = inbox.read()
    if not payload:
        raise EOFError("the parent sent nothing")
    return pickle.loads(payload)


def _stop(pid: int) -> None:
    with contextlib.suppress(OSError):  # (gone already)
        os.kill(pid, signal.SIGKILL)
