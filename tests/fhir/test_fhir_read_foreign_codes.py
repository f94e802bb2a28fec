"""from-fhir on AdverseEvents and lab Observations written by others: dates absent, codes of the FHIR value sets
mapped to CDISC CT, and what cannot be mapped said in the report, never dropped silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from msc_interop.errors import InputError
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


# --- AESER and the seriousness criteria ---------------------------------------------------------------------

SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"


def _serious(rid: str, code: str) -> dict[str, Any]:
    return _ae(rid, f"event {rid}", date="2021-07-02", seriousness={"coding": [{"system": SERIOUSNESS, "code": code}]})


def test_r4_seriousness_criteria_codes_give_aeser_y_and_their_criterion(tmp_path: Path) -> None:
    # FHIR R4 4.0.1 AdverseEventSeriousness: the six codes under Serious (level 2), each an SDTMIG criterion
    criteria = {"SeriousResultsInDeath": "AESDTH", "SeriousIsLifeThreatening": "AESLIFE",
                "SeriousResultsInHospitalization": "AESHOSP", "SeriousResultsInDisability": "AESDISAB",
                "SeriousIsBirthDefect": "AESCONG", "SeriousRequiresPreventImpairment": "AESMIE"}
    aes = [_serious(f"c{i}", code) for i, code in enumerate(criteria)]
    aes += [_serious("s", "Serious"), _serious("n", "Non-serious"), _serious("t", "non-serious")]
    study, report = _read(tmp_path, aes)
    ae = study["AE"].set_index("AETERM")
    for i, (_code, var) in enumerate(criteria.items()):
        row = ae.loc[f"event c{i}"]
        assert row["AESER"] == "Y" and row[var] == "Y", (var, row.to_dict())
        assert all(row[other] == "" for other in criteria.values() if other != var)
    assert list(ae.loc[["event s", "event n", "event t"], "AESER"]) == ["Y", "N", "N"]
    assert (ae.loc[["event s", "event n"], list(criteria.values())] == "").all().all()
    assert not report.rejects


def test_an_unknown_seriousness_code_is_listed_not_dropped(tmp_path: Path) -> None:
    odd = _ae("x1", "Rash", date="2021-07-02",
              seriousness={"coding": [{"system": "http://example.org/sev", "code": "grave"}]})
    study, report = _read(tmp_path, [odd, _serious("s", "Serious")])
    ae = study["AE"].set_index("AETERM")
    assert ae.loc["Rash", "AESER"] == "" and ae.loc["event s", "AESER"] == "Y"
    (note,) = report.rejects
    assert (note.field, note.code, note.value) == ("AdverseEvent.seriousness", "REJ-FHIR-006",
                                                   "http://example.org/sev|grave")
    assert note.reason.startswith("Bundle entry 1: converted without AESER")
    assert "AdverseEvent: read 2 = converted 2 + rejected 0 + skipped 0 (1 of the converted without a field: " \
           "listed in the reject report)" in report.reconciliation()


# --- LBNRIND from Observation.interpretation ----------------------------------------------------------------

V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _potassium(day: int, interpretation: dict[str, Any]) -> dict[str, Any]:
    """A serum potassium result of p1 on 2021-07-<day> (range 3.5-5.1 mmol/L) with this interpretation."""
    mmol = {"unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    return {"resourceType": "Observation", "id": f"k{day}", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": f"2021-07-{day:02d}",
            "valueQuantity": {"value": 4.0, **mmol}, "interpretation": [interpretation],
            "referenceRange": [{"low": {"value": 3.5, **mmol}, "high": {"value": 5.1, **mmol}}]}


def test_lbnrind_comes_from_the_interpretation_coding_and_a_ct_text_only(tmp_path: Path) -> None:
    cases = [  # (interpretation, LBNRIND): v3 codes under H, L and A (THO value sets NormalityHigh/Low/Abnormal)
        ({"coding": [{"system": V3, "code": "H", "display": "High"}], "text": "High"}, "HIGH"),
        ({"coding": [{"system": V3, "code": "HH", "display": "Critical high"}]}, "HIGH"),
        ({"coding": [{"system": V3, "code": "HU"}]}, "HIGH"),
        ({"coding": [{"system": V3, "code": "LL", "display": "Critical low"}]}, "LOW"),
        ({"coding": [{"system": V3, "code": "L", "display": "Low"}], "text": "Below low normal"}, "LOW"),
        ({"coding": [{"system": V3, "code": "LU"}]}, "LOW"),
        ({"coding": [{"system": V3, "code": "N"}], "text": "within range"}, "NORMAL"),
        ({"coding": [{"system": V3, "code": "A"}]}, "ABNORMAL"),
        ({"coding": [{"system": V3, "code": "AA"}]}, "ABNORMAL"),
        ({"text": "low"}, "LOW"),                                # text alone: an NRIND term in another case
        ({"text": "Critical"}, ""),                              # free text: not CT
        ({"coding": [{"system": V3, "code": "POS"}]}, ""),       # a v3 code with no NRIND
        ({"coding": [{"system": "http://hl7.org/fhir/v2/0078", "code": "H"}]}, ""),  # not the v3 system
    ]
    study, report = _read(tmp_path, [_potassium(day, interp) for day, (interp, _) in enumerate(cases, 1)])
    lb = study["LB"].set_index("LBDTC")
    assert len(lb) == len(cases)
    got = [lb.loc[f"2021-07-{day:02d}", "LBNRIND"] for day in range(1, len(cases) + 1)]
    assert got == [want for _, want in cases]
    notes = sorted((n.value, n.field, n.code) for n in report.rejects)
    assert notes == [("'Critical'", "Observation.interpretation", "REJ-FHIR-006"),
                     ("http://hl7.org/fhir/v2/0078|H", "Observation.interpretation", "REJ-FHIR-006"),
                     (f"{V3}|POS", "Observation.interpretation", "REJ-FHIR-006")]
    assert all("converted without LBNRIND" in n.reason for n in report.rejects)
    assert f"Observation: read {len(cases)} = converted {len(cases)} + rejected 0 + skipped 0 (3 of the converted " \
           "without a field: listed in the reject report)" in report.reconciliation()


# --- AEREL from the R4 causality assessment, AEOUT from the R5 SNOMED CT outcome -------------------------------

CAUSALITY = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"


def _assessed(rid: str, assessment: dict[str, Any]) -> dict[str, Any]:
    return _ae(rid, f"event {rid}", date="2021-07-05",
               suspectEntity=[{"instance": {"reference": "Medication/m1"}, "causality": [{"assessment": assessment}]}])


def test_r4_causality_assessment_gives_aerel_as_r5_entity_relatedness_does(tmp_path: Path) -> None:
    study, report = _read(tmp_path, [
        _assessed("a", {"coding": [{"system": CAUSALITY, "code": "Certain", "display": "Certain"}]}),
        _assessed("b", {"coding": [{"system": CAUSALITY, "code": "Probably-Likely"}]}),   # R4 4.0.1 code, no display
        _assessed("c", {"coding": [{"system": CAUSALITY, "code": "unlikely"}]}),          # THO's lower-case code
        _assessed("d", {"text": "Possible"}),
        _assessed("e", {"coding": [{"system": CAUSALITY, "code": "Unassessable-Unclassifiable"}]})])
    ae = study["AE"].set_index("AETERM")
    assert dict(ae["AEREL"]) == {"event a": "Certain", "event b": "Probably/Likely", "event c": "Unlikely",
                                 "event d": "Possible", "event e": "Unassessable/Unclassifiable"}
    assert not report.rejects
    # the same concept as R5 entityRelatedness gives the same AEREL
    r5 = {"resourceType": "AdverseEvent", "id": "r5", "status": "completed", "actuality": "actual",
          "code": {**MEDDRA, "text": "event r5"}, "subject": {"reference": "Patient/p1"},
          "occurrenceDateTime": "2021-07-05",
          "suspectEntity": [{"instanceReference": {"reference": "Medication/m1"}, "causality": {
              "entityRelatedness": {"coding": [{"system": CAUSALITY, "code": "Probably-Likely"}]}}}]}
    study, _ = _read(tmp_path, [r5])
    assert list(study["AE"]["AEREL"]) == ["Probably/Likely"]


def _r5_outcome(rid: str, code: str, system: str = "http://snomed.info/sct") -> dict[str, Any]:
    return {"resourceType": "AdverseEvent", "id": rid, "status": "completed", "actuality": "actual",
            "code": {**MEDDRA, "text": f"event {rid}"}, "subject": {"reference": "Patient/p1"},
            "occurrenceDateTime": "2021-07-01", "outcome": [{"coding": [{"system": system, "code": code}]}]}


def test_r5_snomed_outcomes_give_aeout_and_an_unmapped_one_is_listed(tmp_path: Path) -> None:
    # R5 ValueSet adverse-event-outcome (SNOMED CT descendants of 405533003) -> CDISC OUT (C66768)
    study, report = _read(tmp_path, [
        _r5_outcome("full", "398056004"),       # Transient abnormality with full recovery
        _r5_outcome("unnoticed", "397882007"),  # Transient abnormality unnoticed by the patient
        _r5_outcome("death", "405535005"),      # Adverse incident resulting in death
        _r5_outcome("r4code", "recovering", "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"),
        _r5_outcome("damage", "405532008")])    # potentially permanent disabling damage: not over, not ongoing
    ae = study["AE"].set_index("AETERM")
    assert dict(ae["AEOUT"]) == {"event full": "RECOVERED/RESOLVED", "event unnoticed": "RECOVERED/RESOLVED",
                                 "event death": "FATAL", "event r4code": "RECOVERING/RESOLVING", "event damage": ""}
    (note,) = report.rejects
    assert (note.field, note.code, note.value) == ("AdverseEvent.outcome", "REJ-FHIR-006",
                                                   "http://snomed.info/sct|405532008")
    assert "converted without AEOUT" in note.reason


def test_an_unknown_severity_is_listed_not_dropped(tmp_path: Path) -> None:
    """AESEV as AESER / AEOUT: a code of adverse-event-severity maps; a text that is an AESEV term is taken; anything
    else leaves AESEV empty with a line in the report (REJ-FHIR-006, "converted without AESEV")."""
    sev_system = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"

    def with_severity(rid: str, severity: dict[str, Any]) -> dict[str, Any]:
        return {**_ae(rid, f"event {rid}"), "severity": severity}

    study, report = _read(tmp_path, [
        with_severity("a", {"coding": [{"system": sev_system, "code": "severe"}]}),
        with_severity("b", {"text": "Moderate"}),
        with_severity("c", {"coding": [{"system": "http://example.org/ctcae-grade", "code": "3"}], "text": "Grade 3"}),
    ])
    ae = study["AE"].set_index("AETERM")
    assert dict(ae["AESEV"]) == {"event a": "SEVERE", "event b": "MODERATE", "event c": ""}
    (note,) = report.rejects
    assert (note.field, note.code, note.value) == ("AdverseEvent.severity", "REJ-FHIR-006",
                                                   "http://example.org/ctcae-grade|3; 'Grade 3'")
    assert note.reason.startswith("Bundle entry 3: converted without AESEV")


# --- the sponsor-defined tests note --------------------------------------------------------------------------

def test_the_sponsor_test_note_counts_the_tests_of_converted_results_only(tmp_path: Path) -> None:
    def lab(rid: str, loinc: str, display: str, value: Any) -> dict[str, Any]:
        return {"resourceType": "Observation", "id": rid, "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "laboratory"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
                "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-07-01", **value}

    quantity = {"valueQuantity": {"value": 1.2, "unit": "ng/mL", "system": "http://unitsofmeasure.org",
                                  "code": "ng/mL"}}
    study, report = _read(tmp_path, [
        lab("lead", "5671-3", "Lead [Mass/volume] in Blood", quantity),                     # carried
        lab("hcg", "2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine",     # carried
            {"valueString": "negative"}),
        lab("nov", "2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma", {}),  # rejected: no value
        lab("int", "5778-6", "Color of Urine", {"valueInteger": 3}),                        # rejected: no LB form
        lab("cut", "1234-5", "Something [Mass/volume] in Serum", {                         # rejected: no number
            "valueQuantity": {"unit": "ng/mL", "system": "http://unitsofmeasure.org", "code": "ng/mL"}})])
    assert sorted(study["LB"]["LBTESTCD"]) == ["CHORIOPT", "LEAD"] and len(report.rejects) == 3
    note = next(n for n in report.notes if "SPONSOR-DEFINED" in n)
    assert note.startswith("2 lab result(s) of 2 test(s) not in mappings/lab_tests.yaml")
    assert "LOINC 5671-3 -> LEAD (Lead): 1; LOINC 2106-3 -> CHORIOPT" in note and "2857-1" not in note
    assert "2 lab result(s) of 2 test(s) not in the mapping" in " ".join(report.warnings)


# --- a Bulk Data export folder ---------------------------------------------------------------------------------

def test_a_bulk_data_manifest_is_skipped_with_a_note_not_rejected(tmp_path: Path) -> None:
    # FHIR Bulk Data Access: the $export complete-status body (transactionTime, request, output[], error[])
    export = tmp_path / "export"
    export.mkdir()
    manifest = {"transactionTime": "2021-08-01T00:00:00Z", "request": "https://ehr/fhir/$export",
                "requiresAccessToken": True, "output": [{"type": "Patient", "url": "Patient.ndjson"},
                                                        {"type": "AdverseEvent", "url": "AdverseEvent.ndjson"}],
                "error": []}
    (export / "manifest.json").write_bytes(orjson.dumps(manifest))
    (export / "Patient.ndjson").write_bytes(orjson.dumps(PATIENT) + b"\n")
    (export / "AdverseEvent.ndjson").write_bytes(orjson.dumps(_ae("a1", "Rash", date="2021-07-02")) + b"\n")
    study, report = read_fhir([export])
    assert list(study["AE"]["AETERM"]) == ["Rash"] and not report.rejects
    assert not any(line.startswith("(unreadable)") for line in report.reconciliation())
    (note,) = [n for n in report.notes if "manifest" in n]
    assert note == f"{export / 'manifest.json'}: skipped, it is a FHIR Bulk Data export manifest (not a resource; " \
                   "its output lists 2 NDJSON file(s))"
    with pytest.raises(InputError, match="Bulk Data export manifest, not FHIR resources"):
        read_fhir([export / "manifest.json"])
