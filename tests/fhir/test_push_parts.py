"""The parts of push / pull that need no server: Retry-After, tags, the checkpoint, --since, --patients."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from msc_interop.errors import InputError
from msc_interop.fhir import terms
from msc_interop.server import commands, tags
from msc_interop.server.client import _retry_after
from msc_interop.server.fetched import write_ordered
from msc_interop.server.keyset import KEY, KeySet, key
from msc_interop.server.source import load_source
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
    cp = Checkpoint(tmp_path, "http://h/fhir", "S-1", "input-a", "content-a")
    cp.record({"Patient/p1": "created"})
    cp.record({"Patient/p2": "updated"})
    cp.close()
    with open(cp.path, "ab") as fh:
        fh.write(b'{"Patient/p3": "crea')  # a line cut by a crash
    again = Checkpoint(tmp_path, "http://h/fhir/", "S-1", "input-a", "content-a")
    again.load()
    found, codes = again.done.lookup(np.array([key("Patient", p) for p in ("p1", "p2", "p3")], dtype=KEY))
    assert found.tolist() == [True, True, False] and codes[:2].tolist() == [b"c", b"u"] and not again.stale
    other = Checkpoint(tmp_path, "http://h/fhir", "S-1", "input-b", "content-a")
    other.load()
    assert other.stale and len(other.done) == 0
    assert "SHA-256 input-a" in other.refused and "input changed" in other.refused
    converted = Checkpoint(tmp_path, "http://h/fhir", "S-1", "input-a", "content-b")
    converted.load()
    assert converted.stale and "other resources" in converted.refused
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


def test_keyset_last_value_wins_and_lookup_by_array() -> None:
    """Keys that end in NUL bytes are keys like any other (numpy's S16 strips them when read back as bytes)."""
    a, b, zero_tail = key("Patient", "a"), key("Patient", "b"), b"\x01" + b"\0" * 15
    ks = KeySet(np.array([a, b, zero_tail, a], dtype=KEY), np.array([b"1", b"2", b"3", b"4"], dtype="S16"))
    assert len(ks) == 3 and a in ks and zero_tail in ks and b"\x01" + b"\0" * 14 + b"\x02" not in ks
    found, values = ks.lookup(np.array([a, key("Patient", "c"), zero_tail], dtype=KEY))
    assert found.tolist() == [True, False, True] and values[0] == b"4" and values[2] == b"3"
    assert KeySet.empty().lookup(np.array([a], dtype=KEY))[0].tolist() == [False]


def test_source_streams_to_scratch_resolving_bundle_references(tmp_path: Path) -> None:
    """A transaction Bundle's urn:uuid references become Type/id in what is sent; a repeated Type/id is named
    and only its first copy sent; the keys and hashes are those of the resolved resources."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b5e", "resource": {"resourceType": "Patient", "id": "p1"}},
        {"fullUrl": "urn:uuid:77aa", "resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                                                  "subject": {"reference": "urn:uuid:0b5e"}}},
        {"resource": {"resourceType": "Patient", "id": "p1", "gender": "male"}}]}
    path = tmp_path / "in.json"
    path.write_bytes(orjson.dumps(bundle))
    src = load_source(path, tmp_path / "work", "R4")
    got = list(src.stream())
    assert [(i, t, r["id"]) for i, t, r in got] == [(0, "Patient", "p1"), (1, "Patient", "p1"),
                                                    (2, "Observation", "o1")]
    assert got[2][2]["subject"] == {"reference": "Patient/p1"}
    assert src.first.tolist() == [True, False, True] and src.total == 3
    assert src.problems == ["Patient/p1 is in the input more than once: only the first copy is sent"]
    assert src.hashes[2] == bytes.fromhex(tags.content_hash(got[2][2])[:32])
    assert src.keys[2] == key("Observation", "o1") and src.target == "Patient/p1"


def test_fetched_files_written_in_record_order_later_copy_wins(tmp_path: Path) -> None:
    """OUT/fhir order: by STUDYID/USUBJID/DOMAIN, then --SEQ as a number (10 after 9), then the resources
    without a record number by id; an id in both files is written once, as the later file has it."""
    seq = terms.id_system("seq")

    def obs(rid: str, record: str | None, value: int) -> dict:
        return {"resourceType": "Observation", "id": rid, "valueInteger": value,
                **({"identifier": [{"system": seq, "value": record}]} if record else {})}

    old, new = tmp_path / "old.ndjson", tmp_path / "new.ndjson"
    old.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [
        obs("z", "S/S-02/LB/1", 1), obs("b", None, 1), obs("x", "S/S-01/LB/10", 1), obs("y", "S/S-01/LB/9", 1)]))
    new.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [obs("x", "S/S-01/LB/10", 2), obs("a", None, 2)]))
    written, fetched = write_ordered([old, new], tmp_path / "out.ndjson")
    got = [orjson.loads(line) for line in (tmp_path / "out.ndjson").read_bytes().splitlines()]
    assert [(r["id"], r["valueInteger"]) for r in got] == [("y", 1), ("x", 2), ("z", 1), ("a", 2), ("b", 1)]
    assert (written, fetched) == (5, 2)
