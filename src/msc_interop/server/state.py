"""What a push or pull remembers between runs, in --state-dir: the checkpoint of a push (so an interrupted
one resumes instead of starting over) and the time of the last pull (for --since-last-run).

The checkpoint is JSON lines, appended and flushed after each chunk the server accepted: a header (server,
study, hash of the input), then one line per chunk with each resource's outcome. Appending keeps a 100k push
linear; a line cut by a crash is ignored (its chunk is sent again, harmlessly: every request is a PUT or
DELETE by id).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

import orjson

from msc_interop.atomic import write_bytes_atomic


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "msc-interop"


def _name(kind: str, server: str, studyid: str) -> str:
    key = server.rstrip("/") + "|" + studyid
    return f"{kind}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.json"


class Checkpoint:
    """The outcomes already settled by an earlier, interrupted push of the same input to the same server."""

    def __init__(self, folder: Path, server: str, studyid: str, input_digest: str):
        self.path = folder / _name("push-checkpoint", server, studyid)
        self.header = {"server": server.rstrip("/"), "study": studyid, "input": input_digest}
        self.done: dict[str, str] = {}
        self.stale = False
        self._fh: IO[bytes] | None = None

    def load(self) -> None:
        """Read what an earlier push of this input settled (a checkpoint of another input is stale)."""
        if not self.path.exists():
            return
        lines = self.path.read_bytes().splitlines()
        try:
            header = orjson.loads(lines[0]) if lines else None
        except orjson.JSONDecodeError:
            header = None
        if header != self.header:
            self.stale = True
            return
        for line in lines[1:]:
            try:
                self.done.update(orjson.loads(line))
            except orjson.JSONDecodeError:
                break  # cut by the interruption: that chunk is sent again

    def record(self, outcomes: dict[str, str]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = self.stale or not self.path.exists()
            self._fh = open(self.path, "wb" if fresh else "ab")  # noqa: SIM115 (closed in finish/close)
            if fresh:
                self._fh.write(orjson.dumps(self.header) + b"\n")
        self._fh.write(orjson.dumps(outcomes) + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self) -> None:
        """The push ran to its end: nothing to resume."""
        self.close()
        self.path.unlink(missing_ok=True)


def read_pull_state(folder: Path, server: str, studyid: str) -> dict[str, Any] | None:
    path = folder / _name("pull-state", server, studyid)
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


def write_pull_state(folder: Path, server: str, studyid: str, state: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _name("pull-state", server, studyid)
    write_bytes_atomic(path, orjson.dumps(state, option=orjson.OPT_INDENT_2))
    return path
