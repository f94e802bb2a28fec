"""from-fhir reads a Coding or Quantity whose system is a known non-canonical URI of its code system (a trailing
slash, https, the OID as urn:oid:, the FHIR STU3 URI of an HL7 v2 table or v3 code system:
mappings/code_system_uris.yaml) as that code system, and says so, one note per URI met (fhir/systems.py); validate
reports the same URIs (MSC-FHIR-011, MSC-FHIR-012: one rule, msc_interop/code_systems.py).

Canonical URIs and OIDs: HL7 Terminology (THO) 5.2.0 External Code Systems (LOINC http://loinc.org, OID
2.16.840.1.113883.6.1; UCUM http://unitsofmeasure.org, 2.16.840.1.113883.6.8; SNOMED CT http://snomed.info/sct);
THO CodeSystem observation-category, v3-ObservationInterpretation, v2-0203, whose FHIR STU3 URIs were
http://hl7.org/fhir/observation-category, http://hl7.org/fhir/v3/ObservationInterpretation, http://hl7.org/fhir/v2/0203.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from msc_interop import mappings
from msc_interop.code_systems import canonical_system, noncanonical_system
from msc_interop.errors import InputError
from msc_interop.fhir.read import read_fhir
from msc_interop.fhir.read_partitioned import ReadOptions, read_fhir_partitioned
from msc_interop.fhir.resources.enrolment import load_enrolment
from msc_interop.fhir.systems import QUANTITIES, read_system
from msc_interop.lab_map import load_lab_map
from msc_interop.validate import fhir_rules

LOINC, UCUM, SNOMED = "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


# --- the look-up ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("system", "expected"), [
    ("http://loinc.org/", ("LOINC", LOINC)),                                    # a trailing slash
    ("https://www.loinc.org", ("LOINC", LOINC)),                                # https and www
    ("urn:oid:2.16.840.1.113883.6.1", ("LOINC", LOINC)),                        # LOINC's OID as a urn
    ("urn:oid:2.16.840.1.113883.6.8", ("UCUM", UCUM)),                          # UCUM's OID as a urn
    ("http://hl7.org/fhir/observation-category", ("Observation category", CATEGORY)),  # STU3, listed
    ("http://hl7.org/fhir/v2/0203", ("HL7 v2 table 0203 (Identifier Type)", V2_0203)),  # STU3, listed
    # STU3 v2 / v3 URIs not listed one by one: the prefix rule (every v2 table and v3 code system moved alike)
    ("http://hl7.org/fhir/v2/0078", ("HL7 v2 table 0078", "http://terminology.hl7.org/CodeSystem/v2-0078")),
    ("http://hl7.org/fhir/v3/ActCode", ("HL7 v3 code system ActCode",
                                        "http://terminology.hl7.org/CodeSystem/v3-ActCode")),
    ("http://hl7.org/fhir/v2/0360/2.7", None),             # a versioned STU3 URI: no one R4 URI, left alone
    ("http://snomed.info/sct/900000000000207008", None),   # a SNOMED CT edition (a version), not a system
    (LOINC, None),                                         # canonical
    ("https://example.org/codes", None),                   # a system of someone's own: unknown, unchanged
])
def test_the_lookup_names_the_canonical_uri_of_a_known_variant_and_leaves_the_rest(
        system: str, expected: tuple[str, str] | None) -> None:
    assert noncanonical_system(system) == expected
    assert canonical_system(system) == (expected[1] if expected else system)


def test_read_system_tallies_the_variants_it_reads_and_passes_anything_else_through() -> None:
    seen: Counter[str] = Counter()
    assert read_system("http://loinc.org/", seen) == LOINC
    assert read_system("http://unitsofmeasure.org/", seen, QUANTITIES) == UCUM
    assert read_system(LOINC, seen) == LOINC and read_system("https://example.org/codes", seen) == \
        "https://example.org/codes"
    assert read_system(None, seen) is None and read_system(7, seen) == 7  # not a string (malformed): as given
    assert read_system("http://snomed.info/sct/", None) == SNOMED  # None: a look only, nothing tallied
    assert sorted(seen) == ["code system variant codings http://loinc.org/",
                            "code system variant quantities http://unitsofmeasure.org/"]


# --- the HL7 r4 examples with non-canonical URIs ------------------------------------------------------------------

_BRIEF = {LOINC: "http://loinc.org/", CATEGORY: "http://hl7.org/fhir/observation-category"}
_MORE = {**_BRIEF, UCUM: "urn:oid:2.16.840.1.113883.6.8", SNOMED: "https://snomed.info/sct",
         V3_INTERPRETATION: "http://hl7.org/fhir/v3/ObservationInterpretation",
         V2_0203: "http://hl7.org/fhir/v2/0203"}  # the Patient's identifier type: not read (it has an id)

_NOTE = "{kinds} with system {uri} were read as {name} ({canonical}); validate reports them ({rules})"
_NOTES_BRIEF = [
    _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/observation-category", name="Observation category",
                 canonical=CATEGORY, rules="MSC-FHIR-012"),
    _NOTE.format(kinds="codings", uri="http://loinc.org/", name="LOINC", canonical=LOINC, rules="MSC-FHIR-012")]
# what the readers compare in the examples: Observation category, code, interpretation and valueQuantity /
# referenceRange (f203's unit is a SNOMED CT code), AdverseEvent.event (SNOMED CT), the MedicationAdministration
# dose (UCUM) and route / Medication form (SNOMED CT). v2-0203 is only the type of an identifier of a Patient
# with an id, which is never read: no note
_NOTES_MORE = [
    _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/observation-category", name="Observation category",
                 canonical=CATEGORY, rules="MSC-FHIR-012"),
    _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/v3/ObservationInterpretation",
                 name="HL7 v3 ObservationInterpretation", canonical=V3_INTERPRETATION, rules="MSC-FHIR-012"),
    _NOTE.format(kinds="codings", uri="http://loinc.org/", name="LOINC", canonical=LOINC, rules="MSC-FHIR-012"),
    _NOTE.format(kinds="codings and quantities", uri="https://snomed.info/sct", name="SNOMED CT", canonical=SNOMED,
                 rules="MSC-FHIR-012, MSC-FHIR-011"),
    _NOTE.format(kinds="quantities", uri="urn:oid:2.16.840.1.113883.6.8", name="UCUM", canonical=UCUM,
                 rules="MSC-FHIR-011")]


def _rewritten(src: Path, dst: Path, variants: dict[str, str]) -> Path:
    """The example files of `src` with every system URI of `variants` (a whole JSON string) written the other way."""
    dst.mkdir()
    for path in sorted(src.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        for canonical, variant in variants.items():
            text = text.replace(f'"{canonical}"', f'"{variant}"')
        (dst / path.name).write_text(text, encoding="utf-8")
    return dst


@pytest.mark.parametrize(("variants", "notes"), [(_BRIEF, _NOTES_BRIEF), (_MORE, _NOTES_MORE)], ids=["brief", "more"])
def test_the_r4_examples_convert_the_same_with_non_canonical_uris_and_say_so(
        shared_dir: Path, tmp_path: Path, variants: dict[str, str], notes: list[str]) -> None:
    """Reproduced gap: with "http://loinc.org/" and STU3's observation-category URI the 9 Observations of HL7's r4
    examples all were skipped ("no laboratory category and no LOINC or mapped code"), where 8 convert."""
    r4 = shared_dir / "external" / "fhir-examples" / "r4"
    moved = _rewritten(r4, tmp_path / "r4", variants)
    assert (moved / "Observation-f001.json").read_text(encoding="utf-8") != \
        (r4 / "Observation-f001.json").read_text(encoding="utf-8")  # the files do use these systems
    base_study, base = read_fhir([r4])
    study, report = read_fhir([moved])
    counts = {c["form"]: c for c in report.form_counts()}
    assert (counts["Observation"]["read"], counts["Observation"]["converted"]) == (9, 8)
    assert report.form_counts() == base.form_counts()
    assert sorted(study.datasets) == sorted(base_study.datasets)
    for name in base_study.datasets:  # LB, VS, DM, AE, EX row for row
        pd.testing.assert_frame_equal(study[name], base_study[name])
    assert len(study["LB"]) == 7 and len(study["VS"]) == 1  # the 8 converted (test_fhir_read.py hand-checks them)
    assert [(x.file, x.row, x.field, x.code) for x in report.sorted()] == \
        [(x.file, x.row, x.field, x.code) for x in base.sorted()]
    said = [n for n in report.notes if " were read as " in n]
    assert said == notes
    assert not [n for n in base.notes if " were read as " in n]

    def back(note: str) -> str:  # the other notes name what was sent (the routes not CT: SNOMED CT codes)
        for canonical, variant in variants.items():
            note = note.replace(variant, canonical)
        return note

    assert [back(n) for n in report.notes if n not in said] == base.notes
    # the claim of each note: validate reports these URIs (codings: MSC-FHIR-012 with the URI as value; quantities:
    # MSC-FHIR-011 naming the system)
    findings = fhir_rules(sorted(moved.glob("*.json")), "R4")
    by_coding = {f.value for f in findings if f.rule_id == "MSC-FHIR-012"}
    by_quantity = [f.message for f in findings if f.rule_id == "MSC-FHIR-011"]
    for note in said:
        uri = note.split(" with system ", 1)[1].split(" ", 1)[0]
        if note.startswith("codings"):
            assert uri in by_coding
        if "quantities" in note.split(" with system ")[0]:
            assert any(f"its system is {uri}" in m for m in by_quantity)


# --- ECG, vital signs, lab units, interpretation --------------------------------------------------------------------

def _q(system: str, code: str, value: float, unit: str, ucum: str = UCUM) -> dict[str, Any]:
    return {"code": {"coding": [{"system": system, "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "system": ucum, "code": unit}}


def _hospital_bundle(tmp_path: Path, loinc: str, category: str, ucum: str, v3: str, name: str) -> Path:
    """An ECG report (components), an EKG impression, a heart rate and a blood pressure (vital signs), a serum
    glucose in mg/dL with its range and an H flag: LOINC, observation-category, UCUM and v3 written as given."""
    def cat(code: str) -> list[dict[str, Any]]:
        return [{"coding": [{"system": category, "code": code}]}]

    subject = {"reference": "Patient/p1"}
    ecg = {"resourceType": "Observation", "id": "ecg1", "status": "final", "subject": subject,
           "code": {"coding": [{"system": loinc, "code": "11524-6"}]}, "effectiveDateTime": "2021-11-10T16:48:57",
           "component": [_q(loinc, "76282-3", 72, "/min", ucum), _q(loinc, "44976-9", 0.16, "s", ucum),
                         _q(loinc, "8867-4", 70, "/min", ucum)]}
    impression = {"resourceType": "Observation", "id": "ecg2", "status": "final", "subject": subject,
                  "code": {"coding": [{"system": loinc, "code": "8601-7"}]}, "effectiveDateTime": "2021-11-10",
                  "valueCodeableConcept": {"text": "Normal Sinus Rhythm (NSR)"}}
    hr = {"resourceType": "Observation", "id": "hr1", "status": "final", "category": cat("vital-signs"),
          "subject": subject, "effectiveDateTime": "2021-11-10", **_q(loinc, "8867-4", 80, "/min", ucum)}
    bp = {"resourceType": "Observation", "id": "bp1", "status": "final", "category": cat("vital-signs"),
          "code": {"coding": [{"system": loinc, "code": "85354-9"}]}, "subject": subject,
          "effectiveDateTime": "2021-11-10",
          "component": [_q(loinc, "8480-6", 120, "mm[Hg]", ucum), _q(loinc, "8462-4", 80, "mm[Hg]", ucum)]}
    mg = {"unit": "mg/dL", "system": ucum, "code": "mg/dL"}
    glucose = {"resourceType": "Observation", "id": "g1", "status": "final", "category": cat("laboratory"),
               "code": {"coding": [{"system": loinc, "code": "2345-7"}]}, "subject": subject,
               "effectiveDateTime": "2021-11-10", "valueQuantity": {"value": 180, **mg},
               "interpretation": [{"coding": [{"system": v3, "code": "H"}]}],
               "referenceRange": [{"low": {"value": 70, **mg}, "high": {"value": 99, **mg}}]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": r} for r in ({"resourceType": "Patient", "id": "p1"}, ecg, impression, hr, bp, glucose)]}
    path = tmp_path / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def test_ecg_vital_sign_and_lab_observations_read_the_same_by_a_variant_uri(tmp_path: Path) -> None:
    canonical = _hospital_bundle(tmp_path, LOINC, CATEGORY, UCUM, V3_INTERPRETATION, "canonical.json")
    variant = _hospital_bundle(tmp_path, "urn:oid:2.16.840.1.113883.6.1", "http://hl7.org/fhir/observation-category",
                               "http://unitsofmeasure.org/", "http://hl7.org/fhir/v3/ObservationInterpretation",
                               "variant.json")
    base_study, base = read_fhir([canonical])
    study, report = read_fhir([variant])
    # what the canonical file gives, checked by hand: EG PRAG 160 ms (0.16 s), EGHRMN 72 and the 8867-4 component,
    # INTP; VS HR 80, SYSBP 120, DIABP 80; LB GLUC 180 mg/dL, range 70-99, HIGH from the v3 H
    assert sorted(base_study["EG"]["EGTESTCD"]) == ["EGHRMN", "EGHRMN", "INTP", "PRAG"]
    assert sorted(base_study["VS"]["VSTESTCD"]) == ["DIABP", "HR", "SYSBP"]
    assert base_study["LB"][["LBTESTCD", "LBORRES", "LBORRESU", "LBORNRLO", "LBORNRHI", "LBNRIND"]].values.tolist() \
        == [["GLUC", "180", "mg/dL", "70", "99", "HIGH"]]
    for name in ("EG", "VS", "LB", "DM"):
        pd.testing.assert_frame_equal(study[name], base_study[name])
    assert report.form_counts() == base.form_counts() and not report.rejects
    assert [n for n in report.notes if " were read as " in n] == [
        _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/observation-category", name="Observation category",
                     canonical=CATEGORY, rules="MSC-FHIR-012"),
        _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/v3/ObservationInterpretation",
                     name="HL7 v3 ObservationInterpretation", canonical=V3_INTERPRETATION, rules="MSC-FHIR-012"),
        _NOTE.format(kinds="quantities", uri="http://unitsofmeasure.org/", name="UCUM", canonical=UCUM,
                     rules="MSC-FHIR-011"),
        _NOTE.format(kinds="codings", uri="urn:oid:2.16.840.1.113883.6.1", name="LOINC", canonical=LOINC,
                     rules="MSC-FHIR-012")]


def test_an_unknown_system_is_not_read_as_loinc(tmp_path: Path) -> None:
    """Only listed variants: a look-alike of someone's own ("http://loinc.org/local") stays what it is."""
    path = _hospital_bundle(tmp_path, "http://loinc.org/local", CATEGORY, UCUM, V3_INTERPRETATION, "local.json")
    study, report = read_fhir([path], strict=True)
    assert "EG" not in study.datasets  # neither the ECG report nor the impression is an ECG LOINC
    assert "GLUC" not in set(study["LB"]["LBTESTCD"]) if "LB" in study.datasets else True
    assert [x.value for x in report.rejects if x.field == "Observation.code"] == ["http://loinc.org/local|2345-7"]
    assert not [n for n in report.notes if " were read as " in n]


def test_a_partitioned_read_says_the_variants_of_every_partition_once(tmp_path: Path) -> None:
    """A read a subject at a time (fhir/read_partitioned.py): each partition tallies what it met, the notes are
    the whole read's (each URI met in another partition here)."""
    export = tmp_path / "export"
    export.mkdir()
    loincs = ["http://loinc.org/", LOINC, "urn:oid:2.16.840.1.113883.6.1"]
    obs = [{"resourceType": "Observation", "id": f"o{i}", "status": "final",
            "category": [{"coding": [{"system": CATEGORY if i < 2 else "http://hl7.org/fhir/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": loinc, "code": "2345-7"}]}, "subject": {"reference": f"Patient/p{i}"},
            "effectiveDateTime": f"2021-01-0{i + 1}",
            "valueQuantity": {"value": 90 + i, "unit": "mg/dL", "system": UCUM + "/" if i == 1 else UCUM,
                              "code": "mg/dL"}} for i, loinc in enumerate(loincs)]
    (export / "Patient.ndjson").write_bytes(b"".join(orjson.dumps({"resourceType": "Patient", "id": f"p{i}"}) + b"\n"
                                                     for i in range(3)))
    (export / "Observation.ndjson").write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in obs))
    whole_study, whole = read_fhir([export])
    assert list(whole_study["LB"]["LBTESTCD"]) == ["GLUC"] * 3
    (tmp_path / "scratch").mkdir()
    parted, report = read_fhir_partitioned([export], tmp_path / "scratch", ReadOptions(), 1)
    assert parted.partitions == 3
    assert [n for n in report.notes if " were read as " in n] == [n for n in whole.notes if " were read as " in n] == [
        _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/observation-category", name="Observation category",
                     canonical=CATEGORY, rules="MSC-FHIR-012"),
        _NOTE.format(kinds="codings", uri="http://loinc.org/", name="LOINC", canonical=LOINC, rules="MSC-FHIR-012"),
        _NOTE.format(kinds="quantities", uri="http://unitsofmeasure.org/", name="UCUM", canonical=UCUM,
                     rules="MSC-FHIR-011"),
        _NOTE.format(kinds="codings", uri="urn:oid:2.16.840.1.113883.6.1", name="LOINC", canonical=LOINC,
                     rules="MSC-FHIR-012")]
    assert report.reconciliation() == whole.reconciliation()


# --- a hospital's posted Patient: the type of its identifiers ------------------------------------------------------

def test_a_national_identifier_typed_by_the_stu3_v2_0203_uri_is_never_pseudonymised(tmp_path: Path) -> None:
    """The type of an Identifier is a Coding of v2-0203 (NI: national unique individual identifier); written with
    STU3's http://hl7.org/fhir/v2/0203 it was not recognised, so the national identifier was pseudonymised as the
    subject. The identifier's own system (urn:oid:9.9.9) is no code system and is compared as given."""
    uuid = "11111111-1111-4111-8111-111111111111"
    patient = {"resourceType": "Patient", "identifier": [{
        "system": "urn:oid:9.9.9", "value": "X1", "type": {"coding": [
            {"system": "http://hl7.org/fhir/v2/0203", "code": "NI"}]}}]}
    glucose = {"resourceType": "Observation", "status": "final",
               "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
               "code": {"coding": [{"system": LOINC, "code": "2345-7"}]}, "subject": {"reference": f"urn:uuid:{uuid}"},
               "effectiveDateTime": "2021-03-04", "valueQuantity": {"value": 95, "unit": "mg/dL", "system": UCUM,
                                                                     "code": "mg/dL"}}
    path = tmp_path / "tx.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid}", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000000", "resource": glucose,
         "request": {"method": "POST", "url": "Observation"}}]}))
    keyed = load_enrolment("S1", environ={"MSC_PSEUDONYM_KEY": "a secret of at least sixteen bytes"})
    study, report = read_fhir([path], enrolment=keyed)
    assert "DM" not in study.datasets or study["DM"].empty
    [reason] = [x.reason for x in report.rejects if x.form == "Patient"]
    assert "urn:oid:9.9.9 (a national identifier: never used)" in reason
    assert _NOTE.format(kinds="codings", uri="http://hl7.org/fhir/v2/0203", name="HL7 v2 table 0203 (Identifier Type)",
                        canonical=V2_0203, rules="MSC-FHIR-012") in report.notes


# --- a site's lab map ---------------------------------------------------------------------------------------------

def test_a_lab_map_row_with_a_variant_uri_is_read_as_the_code_system_the_data_is_read_as(tmp_path: Path) -> None:
    """The map's system is compared with the data's as read: a row written "http://loinc.org/" is a LOINC row (it
    wins over the built-in table: specimen PLASMA, where lab_tests.yaml gives 2345-7 SERUM OR PLASMA), whether the
    data says http://loinc.org or http://loinc.org/; the same code under both spellings is mapped twice."""
    path = tmp_path / "map.yaml"
    path.write_text("tests:\n  - {code: '2345-7', system: 'http://loinc.org/', testcd: GLUC, specimen: PLASMA}\n",
                    encoding="utf-8")
    rows = load_lab_map(path)
    assert [(r.system, r.code) for r in rows] == [(LOINC, "2345-7")]
    assert mappings.lab_code_hit(["2345-7"]).specimen == "SERUM OR PLASMA"
    bundle = _hospital_bundle(tmp_path, "http://loinc.org/", CATEGORY, UCUM, V3_INTERPRETATION, "variant.json")
    with mappings.lab_map_installed(rows):
        assert mappings.lab_code_hit(["2345-7"]).specimen == "PLASMA"
        study, _ = read_fhir([bundle])
    assert study["LB"][["LBTESTCD", "LBSPEC"]].values.tolist() == [["GLUC", "PLASMA"]]
    both = tmp_path / "both.yaml"
    both.write_text("tests:\n  - {code: '2345-7', system: 'http://loinc.org', testcd: GLUC}\n"
                    "  - {code: '2345-7', system: 'https://loinc.org', testcd: GLUC}\n", encoding="utf-8")
    with pytest.raises(InputError, match="mapped twice"):
        load_lab_map(both)
