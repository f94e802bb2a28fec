"""MSC-SDTM-021: a dataset whose SDTMIG structure is one record per key has each key once. SV (SDTMIG 3.4
section 5.4: one record per actual or planned visit per subject, keys STUDYID, USUBJID, VISITNUM) has no --SEQ,
so the --SEQ rule (MSC-SDTM-010) never saw a visit recorded twice; DM keeps its one-record-per-subject check."""

from __future__ import annotations

import pandas as pd

from msc_interop.study import Study
from msc_interop.validate import validate_study


def _findings(sv: dict[str, list[object]], dm_ids: tuple[str, ...] = ("S1-001", "S1-002")) -> list[tuple]:
    dm = pd.DataFrame({"STUDYID": "S1", "DOMAIN": "DM", "USUBJID": list(dm_ids)})
    n = len(sv["USUBJID"])
    frame = pd.DataFrame({"STUDYID": ["S1"] * n, "DOMAIN": ["SV"] * n, **sv})
    report = validate_study(Study({}, {"DM": dm, "SV": frame}))
    return [(f.dataset_or_resource, f.row_or_entry, f.usubjid, f.variable_or_path, f.value, f.message)
            for f in report.findings if f.rule_id == "MSC-SDTM-021"]


def test_a_visit_recorded_twice_for_a_subject_is_an_error_at_both_rows() -> None:
    found = _findings({"USUBJID": ["S1-001", "S1-001", "S1-001", "S1-002"], "VISITNUM": [1.0, 2.0, 2.0, 2.0],
                       "VISIT": ["SCREENING", "WEEK 2", "WEEK 2", "WEEK 2"]})
    message = ("USUBJID 'S1-001', VISITNUM 2 occurs 2 times in SV; its keys (USUBJID, VISITNUM) identify one record "
               "(SDTMIG structure: One record per actual or planned visit per subject)")
    assert found == [("SV", 2, "S1-001", "VISITNUM", "2", message), ("SV", 3, "S1-001", "VISITNUM", "2", message)]


def test_one_record_per_subject_and_visit_passes() -> None:
    """The same VISITNUM for two subjects, an unscheduled visit numbered 2.1 next to 2, and a VISITNUM left null
    twice (MSC-SDTM-002's finding, not a repeated key) give no MSC-SDTM-021."""
    assert _findings({"USUBJID": ["S1-001", "S1-001", "S1-002", "S1-002", "S1-002"],
                      "VISITNUM": [2.0, 2.1, 2.0, None, None],
                      "VISIT": ["WEEK 2", "UNSCHEDULED 2.1", "WEEK 2", "", ""]}) == []


def test_dm_still_has_one_record_per_subject() -> None:
    found = _findings({"USUBJID": ["S1-001"], "VISITNUM": [1.0], "VISIT": ["SCREENING"]},
                      dm_ids=("S1-001", "S1-002", "S1-001"))
    message = "USUBJID 'S1-001' occurs 2 times in DM; DM has exactly one record per subject"
    assert found == [("DM", 1, "S1-001", "USUBJID", "S1-001", message),
                     ("DM", 3, "S1-001", "USUBJID", "S1-001", message)]
