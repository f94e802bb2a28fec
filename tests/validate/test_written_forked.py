"""to-sdtm on two cores (api.write_sdtm with forked.Forked): a forked process writes the dataset files while
this one writes define.xml and runs the SDTM rules on the Study (validate/written.py ChecksAhead). The files
must be the bytes one process writes, the findings those of one process and of `validate PATH`, and each SDTM
run made ahead must be the one the validation uses (not run twice)."""

from __future__ import annotations

import shutil
import stat
import threading
from pathlib import Path

import pytest

from conftest import shared_path
from msc_interop import api, forked, sdtm_output
from msc_interop.validate import validate_paths
from msc_interop.validate import written as written_module
from msc_interop.validate.model import Scope

from .written_cases import CREATED, cases

CASES = {name: (make, kw) for name, make, kw in cases(shared_path())}
pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="fork is used on Linux with two cores or more only")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _sdtm_runs(monkeypatch: pytest.MonkeyPatch, scope: Scope = Scope.SDTM) -> list[str]:
    """The sources (files) of the rule runs of `scope` validate/written.py makes in this process from now on."""
    seen: list[str] = []
    real = written_module.run

    def counting(run_scope, ctx, **kw):
        if run_scope == Scope.SDTM == scope:
            seen.append(ctx.source)
        elif run_scope == scope:
            seen.append(kw.get("file", ""))
        return real(run_scope, ctx, **kw)

    monkeypatch.setattr(written_module, "run", counting)
    return seen


def _checked_where_written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format folders whose file and define.xml checks the writing process made (and the validation used)."""
    used: list[str] = []
    real = written_module.FolderChecks.describes

    def describes(self, plan):
        ok = real(self, plan)
        used.extend([plan.fmt] if ok else [])
        return ok

    monkeypatch.setattr(written_module.FolderChecks, "describes", describes)
    return used


def _convert(name: str, tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch, two_cores: bool):
    make, kw = CASES[name]
    monkeypatch.setattr(sdtm_output, "CONCURRENT_ROWS", 0 if two_cores else 10**12)
    return api.to_sdtm(make(tmp_path), out, created=CREATED, **kw)


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_cores_write_the_same_files_and_find_the_same(name: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    one_runs = _sdtm_runs(monkeypatch)
    one = _convert(name, tmp_path, out, monkeypatch, two_cores=False)
    one_files, one_runs_seen = _files(out), list(one_runs)
    shutil.rmtree(out)
    monkeypatch.undo()
    one_define = _sdtm_runs(monkeypatch, Scope.DEFINE)
    _convert(name, tmp_path, out, monkeypatch, two_cores=False)
    one_define_seen = list(one_define)
    shutil.rmtree(out)
    monkeypatch.undo()
    forked_runs = _sdtm_runs(monkeypatch)
    forked_define = _sdtm_runs(monkeypatch, Scope.DEFINE)
    where_written = _checked_where_written(monkeypatch)
    calls: list[bool] = []
    real_fork = forked.Forked.__init__

    def spy(self, fn, **kw):
        calls.append(True)
        real_fork(self, fn, **kw)

    monkeypatch.setattr(forked.Forked, "__init__", spy)
    two = _convert(name, tmp_path, out, monkeypatch, two_cores=True)
    assert calls == [True], "the dataset files were not written by a forked process"
    assert _files(out) == one_files
    assert [f.as_dict() for f in two.validation.findings] == [f.as_dict() for f in one.validation.findings]
    assert [f.as_dict() for f in two.validation.findings] == [f.as_dict() for f in validate_paths([out]).findings]
    # each SDTM run made while the files were written is the one the validation used: no more runs than in one
    # process (a format whose files were read back runs its own, in both)
    assert len(forked_runs) == len(one_runs_seen)
    # define.xml's rules of a folder checked where its files were written are not run here again
    defined = [f for f in where_written if (out / f / "define.xml").is_file()]
    assert len(forked_define) == len(one_define_seen) - len(defined)
    if name == "example":  # (xpt, json, ndjson, csv: each folder checked where it was written)
        assert sorted(where_written) == sorted(p.name for p in out.iterdir() if p.is_dir()) and defined
    assert two.rows == one.rows and two.rejects.notes == one.rejects.notes


def test_a_failed_forked_write_is_done_again_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever ends the forked process (here: its function raises), this process writes the files itself:
    the same files, the same findings."""
    monkeypatch.setattr(sdtm_output, "CONCURRENT_ROWS", 0)
    make, kw = CASES["example"]
    one = api.to_sdtm(make(tmp_path), tmp_path / "one", created=CREATED, **kw)
    real_fork = forked.Forked.__init__

    def failing(self, fn, **kw):
        def boom(*_received):
            raise OSError("disk on fire")
        real_fork(self, boom, **kw)

    monkeypatch.setattr(forked.Forked, "__init__", failing)
    two = api.to_sdtm(make(tmp_path), tmp_path / "two", created=CREATED, **kw)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert len(two.validation.findings) == len(one.validation.findings)


def test_forked_returns_what_the_function_returns_or_says_why_not() -> None:
    with forked.Forked(lambda: {"rows": [1, 2, 3]}) as child:
        assert child.result() == {"rows": [1, 2, 3]}

    def raises():
        raise ValueError("no such dataset")

    with forked.Forked(raises) as child, pytest.raises(forked.ForkedFailure, match="ValueError: no such dataset"):
        child.result()

    import os

    with forked.Forked(lambda: os._exit(3)) as child, pytest.raises(forked.ForkedFailure, match="without a result"):
        child.result()
    with forked.Forked(lambda: 1) as child:  # not asked: waited for on leaving, no zombie left
        pid = child._pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_big_result_comes_through_the_memory_file_and_no_descriptor_is_left(monkeypatch) -> None:
    """A result of tens of MB comes back whole (forked.py: the child writes it to a memory file, not the pipe);
    and a flush that fails before the fork (stdout a closed pipe) leaves no descriptor open behind it."""
    opened = _pipes_opened(monkeypatch, memory_files=True)
    big = bytes(range(256)) * (1 << 17)  # 32 MB
    with forked.Forked(lambda: big) as child:
        assert child.result() == big
    assert len(opened) == 3  # (the result's pipe, both ends, and the memory file)
    _assert_closed(opened)
    opened.clear()

    class BrokenPipe:
        def write(self, text):
            return len(text)

        def flush(self):
            raise BrokenPipeError("stdout is a closed pipe")

    monkeypatch.setattr("sys.stdout", BrokenPipe())
    with pytest.raises(OSError):
        forked.Forked(lambda: 1)
    assert opened == []  # (the flush comes first: nothing was opened to be left behind)


def test_forked_receives_what_this_process_sends() -> None:
    """Forked(inbox=True): the child gets what is sent after the fork (a large value: the pipe holds 64 KB, the
    sending does not wait for the child to read); nothing sent: the child's received() raises."""
    big = {"define": b"x" * (1 << 20)}
    with forked.Forked(lambda received: len(received()["define"]), inbox=True) as child:
        child.send(big)
        assert child.result() == 1 << 20
    with forked.Forked(lambda received: received(), inbox=True) as child, \
            pytest.raises(forked.ForkedFailure, match="EOFError: the parent sent nothing"):
        child.result()


def test_a_value_that_does_not_pickle_is_not_sent_and_nothing_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """send() pickles first: a value that cannot be sent raises here, the inbox is closed when the result is
    asked (the child's received() sees its end), and no pipe is left open."""
    pipes = _pipes_opened(monkeypatch)
    with forked.Forked(lambda received: received(), inbox=True) as child:
        with pytest.raises(Exception, match="pickle"):
            child.send(lambda: 1)
        with pytest.raises(forked.ForkedFailure, match="EOFError"):
            child.result()
    assert len(pipes) == 4
    _assert_closed(pipes)


def _pipes_opened(monkeypatch: pytest.MonkeyPatch, memory_files: bool = False) -> list[tuple[int, int]]:
    """(fd, inode) of each pipe end (and, with `memory_files`, each memfd) this thread opens from now on (not
    another test's server or cluster threads in the same worker: counting every fd of the process failed that way,
    twice: a Dask cluster's connection opened and another closed while a test counted)."""
    import os

    pipes: list[tuple[int, int]] = []
    real_pipe, real_memfd, me = os.pipe, os.memfd_create, threading.get_ident()

    def pipe():
        ends = real_pipe()
        if threading.get_ident() == me:
            pipes.extend((fd, os.fstat(fd).st_ino) for fd in ends)
        return ends

    def memfd_create(*args, **kwargs):
        fd = real_memfd(*args, **kwargs)
        if threading.get_ident() == me:
            pipes.append((fd, os.fstat(fd).st_ino))
        return fd

    monkeypatch.setattr(forked.os, "pipe", pipe)
    if memory_files:
        monkeypatch.setattr(forked.os, "memfd_create", memfd_create)
    return pipes


def _assert_closed(pipes: list[tuple[int, int]]) -> None:
    """Each pipe end (or memory file) closed (or its number since reused by something else)."""
    import os

    assert pipes, "no pipe was made"
    for fd, inode in pipes:
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        assert not ((stat.S_ISFIFO(info.st_mode) or stat.S_ISREG(info.st_mode)) and info.st_ino == inode), \
            f"the fd {fd} is still open"


def test_one_process_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSC_INTEROP_ONE_PROCESS", "1")
    assert not forked.can_fork()


def test_no_fork_now_means_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fork refused (ENOMEM, a process limit): the files are written here, the pipe closed."""
    import errno

    monkeypatch.setattr(sdtm_output, "CONCURRENT_ROWS", 0)
    make, kw = CASES["example"]
    one = api.to_sdtm(make(tmp_path), tmp_path / "one", created=CREATED, **kw)

    def no_fork():
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(forked.os, "fork", no_fork)
    pipes = _pipes_opened(monkeypatch)
    two = api.to_sdtm(make(tmp_path), tmp_path / "two", created=CREATED, **kw)
    _assert_closed(pipes)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert two.rejects.notes == one.rejects.notes


def test_an_interrupt_while_waiting_stops_and_reaps_the_child() -> None:
    import os
    import signal
    import time

    def interrupt(*_):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt), forked.Forked(lambda: time.sleep(30)) as child:
            pid = child._pid
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            child.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(ChildProcessError):  # reaped: no zombie
        os.waitpid(pid, os.WNOHANG)
