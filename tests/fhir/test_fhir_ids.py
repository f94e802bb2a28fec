"""Stable, FHIR-valid resource ids."""

from __future__ import annotations

import pandas as pd

from msc_interop.fhir import ids


def test_ids_are_readable_stable_and_valid() -> None:
    usubjid = pd.Series(["MSC-SLE-2009-01-01", "MSC-SLE-2009-01-01", "01/002 (site 7)", "X" * 60])
    seq = pd.Series([1, 2, 1, None], dtype="Int64")
    a = ids.record_ids("lb", "MSC-SLE-2009", usubjid, seq, "LB")
    b = ids.record_ids("lb", "MSC-SLE-2009", usubjid, seq, "LB")
    assert list(a) == list(b)
    assert a[0] == f"lb-{ids.study_key('MSC-SLE-2009')}-MSC-SLE-2009-01-01-1"
    assert a[2].startswith("lb-") and "(" not in a[2]          # unsafe USUBJID hashed
    assert a[3].endswith("-n4")                                 # no --SEQ: row number keeps ids unique
    assert len(set(a)) == 4
    assert all(ids.ID_PATTERN.match(x) for x in a)


def test_other_studies_get_other_ids() -> None:
    u = pd.Series(["S-1"])
    s = pd.Series([1])
    assert ids.record_ids("lb", "A", u, s, "LB")[0] != ids.record_ids("lb", "B", u, s, "LB")[0]


def test_references_in_and_out_of_bundles() -> None:
    assert ids.Refs(in_bundle=False)("Patient", "pt-1") == "Patient/pt-1"
    urn = ids.Refs(in_bundle=True)("Patient", "pt-1")
    assert urn == ids.urn("Patient", "pt-1") and urn.startswith("urn:uuid:")
