"""from-fhir on AdverseEvents and lab Observations written by others: dates absent, codes of the FHIR value sets
mapped to CDISC CT, and what cannot be mapped said in the report, never dropped silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from msc_interop.fhir import read_fhir

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}
MEDDRA = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/mdr", "code": "10019211",
                      "display": "Headache"}]}


def _read(tmp_path: Path, resources: list[dict[str, Any]], **kw: Any):
    """The resources as one collection Bundle (the Patient first), read as from-fhir reads it."""
    entries = [{"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{i:012d}", "resource": r}
               for i, r in enumerate([PATIENT, *resources])]
    path = tmp_path / "in.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return read_fhir([path], **kw)


def _ae(rid: str, term: str, **extra: Any) -> dict[str, Any]:
    """An R4 AdverseEvent of p1 (MedDRA coding, AETERM `term`)."""
    return {"resourceType": "AdverseEvent", "id": rid, "actuality": "actual", "event": {**MEDDRA, "text": term},
            "subject": {"reference": "Patient/p1"}, **extra}


# --- AE dates ----------------------------------------------------------------------------------------------

def test_adverse_events_without_a_start_date_convert_with_aestdtc_empty(tmp_path: Path) -> None:
    # R4 without `date`, R5 without occurrence[x]: no AE of the read has a start date (this crashed: KeyError)
    r4 = _ae("a6", "Nausea", recordedDate="2021-07-06", detected="2021-07-06T09:00:00+08:00")
    study, report = _read(tmp_path, [r4])
    ae = study["AE"]
    assert list(ae["AETERM"]) == ["Nausea"] and list(ae["AESTDTC"]) == [""]
    assert ae["AESTDY"].isna().all() and not report.rejects
    r5 = {"resourceType": "AdverseEvent", "id": "b6", "status": "completed", "actuality": "actual",
          "code": {**MEDDRA, "text": "Nausea"}, "subject": {"reference": "Patient/p1"}}
    study, report = _read(tmp_path, [r5])
    assert list(study["AE"]["AESTDTC"]) == [""] and not report.rejects
    assert "AdverseEvent: read 1 = converted 1 + rejected 0 + skipped 0" in report.reconciliation()
