"""AE terms as data (mappings/adverse_events.yaml): the orders match CT, the builder maps causality through the
file, and the summary counts "not related" from the same file."""

from __future__ import annotations

import copy
import re

import pandas as pd
import pytest

from msc_interop import mappings
from msc_interop.errors import MappingDataError
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.study import Study, StudyMeta
from msc_interop.summary import compute_tables


def test_severity_and_outcome_orders_are_the_ct_codelists():
    terms = mappings.adverse_event_terms()
    assert terms.severity_order == ("MILD", "MODERATE", "SEVERE")
    assert set(terms.outcome_order) == mappings.codelist("OUT").values
    assert terms.outcome_order[0] == "RECOVERED/RESOLVED" and terms.outcome_order[-1] == "UNKNOWN"


def test_relationship_terms_and_not_related():
    terms = mappings.adverse_event_terms()
    assert dict(terms.relationship) == {
        "NOT RELATED": "NOT RELATED", "N": "NOT RELATED", "NO": "NOT RELATED", "UNLIKELY RELATED": "UNLIKELY RELATED",
        "POSSIBLY RELATED": "POSSIBLY RELATED", "PROBABLY RELATED": "PROBABLY RELATED", "RELATED": "RELATED",
        "Y": "RELATED", "YES": "RELATED"}
    # not related: the related: false terms with their spellings, and values of SDTM made elsewhere
    assert terms.not_related == {"NOT RELATED", "N", "NO", "UNLIKELY RELATED", "UNRELATED", "NONE", "NOT SUSPECTED"}
    assert not terms.not_related & {"RELATED", "POSSIBLY RELATED", "PROBABLY RELATED", "Y", "YES"}


@pytest.mark.parametrize("key, change, message", [
    ("severity", lambda s: s["order"].pop(), "every term of AESEV"),
    ("severity", lambda s: s["order"][0].update(nci_code="C41339"), "MILD (C41339) is not a term of AESEV"),
    ("outcome", lambda s: s.update(nci_code="C66769"), "OUT is C66768"),
])
def test_an_order_that_disagrees_with_ct_is_refused(key, change, message):
    data = copy.deepcopy(mappings.load("adverse_events"))
    change(data[key])
    with pytest.raises(MappingDataError, match=re.escape(message)):
        mappings._ct_order(data, key)


def test_builder_maps_causality_through_adverse_events_yaml(records_copy):
    spelled = ["Yes", "n", "Possibly related", "unlikely related", "Probably Related", "not related", "Y", "NO",
               "Unrelated"]

    def edit(df: pd.DataFrame) -> pd.DataFrame:
        rows = pd.concat([df.iloc[[0]]] * len(spelled), ignore_index=True)
        rows["ae_number"] = [str(i + 2) for i in range(len(spelled))]
        rows["relationship"] = spelled
        return pd.concat([df, rows], ignore_index=True)

    study, report = build_study(read_records(records_copy(adverse_events=edit)))
    ae = study["AE"].sort_values("AESPID", key=lambda s: s.astype(int))
    assert ae["AEREL"].tolist() == ["RELATED", "RELATED", "NOT RELATED", "POSSIBLY RELATED", "UNLIKELY RELATED",
                                    "PROBABLY RELATED", "NOT RELATED", "RELATED", "NOT RELATED"]
    rejects = report.to_frame()
    assert rejects["value"].tolist() == ["Unrelated"]  # counted as not related by the summary, not accepted here
    assert rejects["reason"].iloc[0].startswith("'Unrelated' is not a causality value")


def test_summary_counts_related_and_orders_severity_from_the_file():
    rel = ["RELATED", "POSSIBLY RELATED", "NOT RELATED", "UNLIKELY RELATED", "NONE", "", "N", "PROBABLY RELATED"]
    subjects = [f"S{i}" for i in range(1, len(rel) + 1)]
    ae = pd.DataFrame({"STUDYID": "T", "DOMAIN": "AE", "USUBJID": subjects, "AESEQ": 1, "AETERM": "Headache",
                       "AEDECOD": "Headache", "AEBODSYS": "Nervous system disorders", "AEREL": rel,
                       "AESEV": ["SEVERE", "MILD", "MODERATE", "MILD", "MILD", "MILD", "MILD", "MILD"],
                       "AESER": "N", "AEACN": "", "AEOUT": "RECOVERED/RESOLVED", "AESTDTC": "2020-01-02"})
    dm = pd.DataFrame({"STUDYID": "T", "DOMAIN": "DM", "USUBJID": subjects, "SUBJID": subjects, "SEX": "F",
                       "AGE": 40, "ARMCD": "A", "ARM": "Arm A", "COUNTRY": "CHN"})
    t = compute_tables(Study(StudyMeta(studyid="T"), {"DM": dm, "AE": ae}))
    overview = t["ae_overview"].set_index("Category")
    # RELATED, POSSIBLY RELATED, PROBABLY RELATED and the empty AEREL (counted as related: the conservative
    # convention of mappings/ae_groups.yaml): 4 of 8; NOT RELATED, UNLIKELY RELATED, NONE and N are not.
    # (No EX and no RFXSTDTC: every subject is taken as treated and every AE as treatment-emergent.)
    assert overview.at["Related TEAE (see note)", "Arm A (N=8) n (%)"] == "4 (50.0%)"
    sev = t["ae_characteristics"]
    assert sev.loc[sev["Characteristic"].eq("Severity (AESEV)"), "Category"].tolist() == ["MILD", "MODERATE",
                                                                                           "SEVERE"]
