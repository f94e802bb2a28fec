"""What a push or pull remembers between runs, in --state-dir: the checkpoint of a push (so an interrupted
one resumes instead of starting over) and the time of the last pull (for --since-last-run).

The checkpoint is JSON lines, appended and flushed after each chunk the server accepted: a header (server,
study, SHA-256 of the input files and of the resources read from them), then one line per chunk with each
resource's outcome. Appending keeps a 100k push linear; a line cut by a crash is ignored (its chunk is sent
again, harmlessly: every request is a PUT or DELETE by id).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

import orjson

from msc_interop.atomic import write_bytes_atomic
from msc_interop.server import keyset


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "msc-interop"


def _name(kind: str, server: str, studyid: str) -> str:
    key = server.rstrip("/") + "|" + studyid
    return f"{kind}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.json"


OUTCOME_CODES = {"created": b"c", "updated": b"u", "deleted": b"d", "unchanged": b"n"}
OUTCOME_NAMES = {v: k for k, v in OUTCOME_CODES.items()}


class Checkpoint:
    """The outcomes already settled by an earlier, interrupted push of the same input to the same server.

    The header names the input by SHA-256 (of its files, and of the resources read from them): a checkpoint
    left by a push of another input is not resumed (`refused` says why), the push starts over (safe: every
    resource is compared with the server again). What was settled is held as a keyset.KeySet (16-byte key of
    Type/id -> one-byte outcome code), not as a dict of strings."""

    def __init__(self, folder: Path, server: str, studyid: str, input_sha256: str, content_sha256: str = ""):
        self.path = folder / _name("push-checkpoint", server, studyid)
        self.header = {"server": server.rstrip("/"), "study": studyid, "input_sha256": input_sha256,
                       "content_sha256": content_sha256}
        self.done = keyset.KeySet.empty(1)
        self.stale = False
        self.refused = ""  # why the checkpoint found was not resumed
        self._fh: IO[bytes] | None = None

    def load(self) -> None:
        """Read what an earlier push of this input settled (a checkpoint of another input is stale)."""
        if not self.path.exists():
            return
        done = keyset.KeyBuilder(1)
        with open(self.path, "rb") as fh:
            try:
                header = orjson.loads(fh.readline())
            except orjson.JSONDecodeError:
                header = None
            if header != self.header:
                self.stale, self.refused = True, _refusal(header, self.header)
                return
            for line in fh:
                try:
                    chunk = orjson.loads(line)
                except orjson.JSONDecodeError:
                    break  # cut by the interruption: that chunk is sent again
                for ref, outcome in chunk.items():
                    rtype, _, rid = ref.partition("/")
                    done.add(keyset.key(rtype, rid), OUTCOME_CODES.get(outcome, b"c"))
        self.done = done.freeze()

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


def _refusal(found: Any, wanted: dict[str, str]) -> str:
    if not isinstance(found, dict) or "input_sha256" not in found:
        return "its header is not one this version writes"
    if found.get("input_sha256") != wanted["input_sha256"]:
        return (f"it was written for an input with SHA-256 {str(found['input_sha256'])[:16]}..., this input's is "
                f"{wanted['input_sha256'][:16]}... (the input changed since the interrupted push)")
    if found.get("content_sha256") != wanted["content_sha256"]:
        return "the same input files give other resources now (another --fhir-version or tool version)"
    return "it was written for another server or study"


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
