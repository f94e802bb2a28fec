"""Stable, FHIR-valid resource ids: records are named by their natural key, not by --SEQ (issue 16)."""

from __future__ import annotations

import pandas as pd

from msc_interop.fhir import ids


def _lb(**cols: list) -> pd.DataFrame:
    base = {"USUBJID": ["MSC-SLE-2009-01-01"] * 3, "LBTESTCD": ["WBC", "WBC", "PLT"],
            "VISITNUM": [1.0, 2.0, 1.0], "LBDTC": ["2020-01-01", "2020-01-08", "2020-01-01"],
            "LBSEQ": [1, 2, 3]}
    base.update(cols)
    return pd.DataFrame(base)


def test_ids_are_readable_stable_and_valid() -> None:
    df = _lb(USUBJID=["MSC-SLE-2009-01-01", "01/002 (site 7)", "X" * 60])
    a, notes = ids.natural_ids("lb", "MSC-SLE-2009", df, "LB")
    b, _ = ids.natural_ids("lb", "MSC-SLE-2009", df, "LB")
    assert list(a) == list(b) and notes == []
    assert a[0].startswith(f"lb-{ids.study_key('MSC-SLE-2009')}-MSC-SLE-2009-01-01-")
    assert "(" not in a[1]                                  # unsafe USUBJID hashed
    assert len(set(a)) == 3
    assert all(ids.ID_PATTERN.match(x) for x in a)


def test_ids_do_not_follow_seq() -> None:
    """Removing a row, or renumbering --SEQ, leaves every other record's id where it was."""
    df = _lb()
    full, _ = ids.natural_ids("lb", "S", df, "LB")
    fewer, _ = ids.natural_ids("lb", "S", df.drop(index=0).assign(LBSEQ=[1, 2]).reset_index(drop=True), "LB")
    assert list(fewer) == list(full[1:])
    moved, _ = ids.natural_ids("lb", "S", df.assign(LBDTC=["2020-01-01", "2020-01-09", "2020-01-01"]), "LB")
    assert moved[0] == full[0] and moved[1] != full[1]     # another date: another record


def test_repeated_keys_are_numbered_and_reported() -> None:
    df = _lb(LBTESTCD=["WBC", "WBC", "WBC"], VISITNUM=[1.0, 1.0, 1.0], LBDTC=["2020-01-01"] * 3)
    rid, notes = ids.natural_ids("lb", "S", df, "LB")
    assert len(set(rid)) == 3
    assert len(notes) == 1 and "2 record(s) share every identity variable" in notes[0] and "row 2" in notes[0]


def test_hash_collisions_are_detected_and_resolved() -> None:
    """With one hex digit, 40 distinct keys must collide: detected, reported, and the full hash used."""
    df = pd.DataFrame({"USUBJID": ["S-1"] * 40, "LBTESTCD": [f"T{i}" for i in range(40)]})
    rid, notes = ids.natural_ids("lb", "S", df, "LB", hex_digits=1)
    assert len(set(rid)) == 40
    assert any("hashed to the same id" in n for n in notes)
    assert all(ids.ID_PATTERN.match(x) for x in rid)


def test_other_studies_get_other_ids() -> None:
    df = _lb()
    assert ids.natural_ids("lb", "A", df, "LB")[0][0] != ids.natural_ids("lb", "B", df, "LB")[0][0]


def test_events_are_named_by_subject_term_and_start() -> None:
    ae = pd.DataFrame({"USUBJID": ["S-1", "S-1"], "AETERM": ["Headache", "Headache"],
                       "AEDECOD": ["Headache", "HEADACHE"], "AESTDTC": ["2020-01-01", "2020-02-01"],
                       "AESEQ": [1, 2]})
    a, _ = ids.natural_ids("ae", "S", ae, "AE")
    recoded, _ = ids.natural_ids("ae", "S", ae.assign(AEDECOD=["Tension headache"] * 2), "AE")
    assert list(a) == list(recoded) and a[0] != a[1]        # MedDRA recoding keeps the id


def test_references_in_and_out_of_bundles() -> None:
    assert ids.Refs(in_bundle=False)("Patient", "pt-1") == "Patient/pt-1"
    urn = ids.Refs(in_bundle=True)("Patient", "pt-1")
    assert urn == ids.urn("Patient", "pt-1") and urn.startswith("urn:uuid:")


def test_key_texts_of_every_kind_of_value() -> None:
    import numpy as np

    values = pd.Series(["a|b", "c\\d", "2015-01-01T09:30", "", None, float("nan"), pd.NA, 3.0, 2.5, np.float64(5.0),
                        np.float32(4.0), 7], dtype=object)
    assert ids._key_texts(values) == ["a\\|b", "c\\\\d", "2015-01-01T09:30", "", "", "", "", "3", "2.5", "5", "4",
                                      "7"]
