"""The parts of push / pull that need no server: Retry-After, tags, the checkpoint, --since, --patients."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from msc_interop.errors import InputError
from msc_interop.server import commands, tags
from msc_interop.server.client import _retry_after
from msc_interop.server.state import Checkpoint


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert _retry_after("3") == 3.0 and _retry_after("-5") == 0.0
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= _retry_after(soon) <= 31
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert _retry_after("soon") == 1.0  # neither form: a short wait, not a crash


def test_content_hash_ignores_meta_and_key_order() -> None:
    a = {"resourceType": "Patient", "id": "p", "gender": "female", "meta": {"versionId": "7"}}
    b = {"gender": "female", "id": "p", "resourceType": "Patient"}
    tagged, digest = tags.tagged(a, "S-1")
    assert digest == tags.content_hash(b) == tags.content_hash(tagged)
    assert tags.tag_code(tagged, tags.systems()["study"]) == "S-1"
    assert tags.tag_code(tagged, tags.systems()["content_hash"]) == digest
    assert "versionId" not in tagged["meta"]  # what the server assigns is not sent back
    assert tags.content_hash({**b, "gender": "male"}) != digest


def test_checkpoint_resumes_its_own_input_only(tmp_path: Path) -> None:
    cp = Checkpoint(tmp_path, "http://h/fhir", "S-1", "input-a")
    cp.record({"Patient/p1": "created"})
    cp.record({"Patient/p2": "updated"})
    cp.close()
    with open(cp.path, "ab") as fh:
        fh.write(b'{"Patient/p3": "crea')  # a line cut by a crash
    again = Checkpoint(tmp_path, "http://h/fhir/", "S-1", "input-a")
    again.load()
    assert again.done == {"Patient/p1": "created", "Patient/p2": "updated"} and not again.stale
    other = Checkpoint(tmp_path, "http://h/fhir", "S-1", "input-b")
    other.load()
    assert other.stale and other.done == {}
    again.finish()
    assert not again.path.exists()


def test_since_and_patient_list(tmp_path: Path) -> None:
    assert commands.since_instant("2026-01-31") == "2026-01-31T00:00:00Z"
    assert commands.since_instant("2026-01-31T08:00:00+01:00") == "2026-01-31T08:00:00+01:00"
    with pytest.raises(InputError, match="time zone"):
        commands.since_instant("2026-01-31T08:00")
    (tmp_path / "p.txt").write_text("# ids\nPatient/a\n\nb\n")
    assert commands.patient_ids(tmp_path / "p.txt") == ["a", "b"]
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="no Patient ids"):
        commands.patient_ids(tmp_path / "empty.txt")
