"""FHIR side of validate: code forms (LOINC, UCUM, dates), the HL7 examples, NDJSON, versions, hooks, scale."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from msc_interop.errors import MscInteropError
from msc_interop.validate import FHIR_HOOKS, fhir_rules, get_rule, register_fhir_hook, validate_paths
from msc_interop.validate.fhir_rules import normalize_version, read_fhir
from msc_interop.validate.terminology import fhir_date_problem, loinc_check_digit, loinc_problem, ucum_problem

from .conftest import FHIR_DATA, rule_ids

# --- code forms ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["6690-2", "789-8", "777-3", "1742-6", "1920-8", "1975-2", "1968-7", "1834-1",
                                  "2039-6", "10334-1", "24108-3", "15074-8", "LA6576-8"])
def test_loinc_codes_of_the_study_pass(code: str) -> None:
    assert loinc_problem(code) == ""


@pytest.mark.parametrize(("code", "why"), [("6690-3", "check digit of 6690 is 2"), ("6690", "hyphen"),
                                           ("CA199", "hyphen"), ("6690-22", "hyphen")])
def test_bad_loinc_codes(code: str, why: str) -> None:
    assert why in loinc_problem(code)


def test_loinc_check_digit_example_of_the_users_guide() -> None:
    assert loinc_check_digit("12345") == 5


@pytest.mark.parametrize("code", ["10*9/L", "10*12/L", "U/L", "umol/L", "ng/mL", "%", "[lb_av]", "mmol/L",
                                  "{cells}/uL", "10*6/kg", "/min", "kg/m2", "mL/min/{1.73_m2}", "[IU]/L", "mm[Hg]",
                                  "1", "g.m-2", "10^9/L", "(mg/dL)/h"])
def test_ucum_expressions_that_parse(code: str) -> None:
    assert ucum_problem(code) == ""


@pytest.mark.parametrize(("code", "why"), [("10^9 /L", "' ' at position 5"), ("mg/", "missing"),
                                           ("mmol//L", "cannot start"), ("µmol/L", "'µ'"), ("x10E9/L", "'E'"),
                                           ("10*/L", "exponent"), ("(mg/dL", "')'"), ("", "empty"),
                                           ("{cells/uL", "'}'")])
def test_ucum_expressions_that_do_not_parse(code: str, why: str) -> None:
    assert why in ucum_problem(code)


@pytest.mark.parametrize(("value", "kind"), [("2009", "dateTime"), ("2009-03", "dateTime"), ("2009-03-28", "date"),
                                             ("2009-03-28T09:52:00+08:00", "dateTime"), ("2009-03-28T01:52:00Z",
                                                                                          "instant")])
def test_fhir_date_forms_that_pass(value: str, kind: str) -> None:
    assert fhir_date_problem(value, kind) == ""


@pytest.mark.parametrize(("value", "kind", "why"), [
    ("2009-03-28T09:52", "dateTime", "needs seconds and a time-zone offset"),
    ("2009-03-28T09:52:00", "dateTime", "time-zone offset"),
    ("2003---15", "dateTime", "missing month or day"),
    ("2009-03-28/2009-03-29", "dateTime", "interval"),
    ("2009-02-29", "date", "not a calendar date"),
    ("20090328", "date", "basic format"),
    ("2009-03-28", "instant", "an instant is"),
])
def test_fhir_date_forms_that_fail(value: str, kind: str, why: str) -> None:
    assert why in fhir_date_problem(value, kind)


# --- the HL7 examples ------------------------------------------------------------------------------------------

# Judged: the HL7 examples Observation-f203/f204 give valueQuantity a SNOMED CT unit code (258813002 for mmol/L)
# and reference ranges without units. FHIR allows that (qty-3 asks a system only of a unit code; UCUM is not
# mandatory), so these six are warnings of MSC-FHIR-011 (UCUM makes lab results computable), never errors.
# Nothing else is reported in the R4, R4B or R5 examples.
HL7_EXPECTED = {
    (f"Observation-{ex}.json", path) for ex in ("f203", "f204")
    for path in ("Observation.valueQuantity", "Observation.referenceRange[0].low", "Observation.referenceRange[0].high")
}


@pytest.mark.parametrize("version", ["r4", "r4b", "r5"])
def test_hl7_examples(shared_dir: Path, version: str) -> None:
    files = sorted((shared_dir / "external" / "fhir-examples" / version).glob("*.json"))
    assert len(files) >= 10
    report = validate_paths(files, fhir_version="R5" if version == "r5" else "R4")
    # f003 (11557-6 "Carbon dioxide in blood") and f203 (1963-8 "Bicarbonate [Moles/?volume] in Serum", an older
    # long common name) display their LOINC codes by names mappings/ does not hold: FHIR allows a LOINC display to
    # be the SHORTNAME or the long common name, so no MSC-FHIR-014 (it reports another code's name only)
    assert rule_ids(report.findings) <= {"MSC-FHIR-011"}
    assert {f.severity for f in report.findings} == {"warning"}
    assert {(Path(f.file).name, f.variable_or_path) for f in report.findings} == HL7_EXPECTED


@pytest.mark.parametrize(("quantity", "rule", "severity"), [
    ({"value": 5.4, "unit": "mmol/L", "code": "mmol/L"}, "MSC-FHIR-004", "error"),  # a code without its system
    ({"value": 5.4, "unit": "mmol/L", "system": "http://snomed.info/sct", "code": "258813002"}, "MSC-FHIR-011",
     "warning"),
    ({"value": 5.4, "unit": "mmol/L"}, "MSC-FHIR-011", "warning"),
    ({"value": 5.4}, "MSC-FHIR-011", "warning"),
    ({"value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}, None, None),
])
def test_quantity_unit_code_needs_a_system_and_ucum_is_a_warning(
        tmp_path: Path, quantity: dict[str, object], rule: str | None, severity: str | None) -> None:
    obs = {"resourceType": "Observation", "id": "q", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}, "valueQuantity": quantity}
    (tmp_path / "q.json").write_text(json.dumps(obs), encoding="utf-8")
    found = [(f.rule_id, f.severity, f.variable_or_path) for f in fhir_rules([tmp_path / "q.json"], "R4")]
    assert found == ([] if rule is None else [(rule, severity, "Observation.valueQuantity")])


# the canonical URIs: HL7 Terminology (THO) 5.2.0 External Code Systems (LOINC http://loinc.org, OID
# 2.16.840.1.113883.6.1; SNOMED CT http://snomed.info/sct); THO CodeSystem v2-0203, v3-ObservationInterpretation
# (STU3: http://hl7.org/fhir/v2/0203, http://hl7.org/fhir/v3/ObservationInterpretation)
@pytest.mark.parametrize(("element", "system", "name", "canonical"), [
    ("code", "http://loinc.org/", "LOINC", "http://loinc.org"),
    ("code", "urn:oid:2.16.840.1.113883.6.1", "LOINC", "http://loinc.org"),
    ("code", "http://snomed.info/sct/", "SNOMED CT", "http://snomed.info/sct"),
    ("category", "http://hl7.org/fhir/v2/0203", "HL7 v2 table 0203 (Identifier Type)",
     "http://terminology.hl7.org/CodeSystem/v2-0203"),
    ("category", "http://hl7.org/fhir/v2/0074", "HL7 v2 table 0074", "http://terminology.hl7.org/CodeSystem/v2-0074"),
    ("interpretation", "http://hl7.org/fhir/v3/ObservationInterpretation", "HL7 v3 ObservationInterpretation",
     "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"),
])
def test_a_non_canonical_code_system_uri_is_a_warning_naming_the_canonical_one(
        tmp_path: Path, element: str, system: str, name: str, canonical: str) -> None:
    coding = {"coding": [{"system": system, "code": "X"}]}
    obs = {"resourceType": "Observation", "id": "u", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}, "valueString": "x"}
    obs[element] = coding if element == "code" else [coding]
    (tmp_path / "u.json").write_text(json.dumps(obs), encoding="utf-8")
    found = [f for f in fhir_rules([tmp_path / "u.json"], "R4") if f.rule_id == "MSC-FHIR-012"]
    path = f"Observation.{element}{'' if element == 'code' else '[0]'}.coding[0].system"
    assert [(f.severity, f.variable_or_path, f.dataset_or_resource, f.value) for f in found] == [
        ("warning", path, "Observation/u", system)]
    assert found[0].message == (f"{path} '{system}' is not the canonical URI of {name}: use {canonical} "
                                "(systems are matched by exact URI)")


@pytest.mark.parametrize("system", ["http://loinc.org", "http://snomed.info/sct", "http://terminology.hl7.org/"
                                    "CodeSystem/v2-0203", "http://snomed.info/sct/900000000000207008",
                                    "http://hl7.org/fhir/v2/0360/2.7", "https://example.org/codes"])
def test_canonical_and_unknown_code_system_uris_pass(tmp_path: Path, system: str) -> None:
    """Canonical URIs, a SNOMED CT edition URI (a version, not a system: never listed), a versioned STU3 URI
    (no one R4 URI to name) and a system of someone's own give no MSC-FHIR-012."""
    obs = {"resourceType": "Observation", "id": "u", "status": "final",
           "code": {"coding": [{"system": system, "code": "2345-7"}]}, "valueString": "x"}
    (tmp_path / "u.json").write_text(json.dumps(obs), encoding="utf-8")
    assert [f for f in fhir_rules([tmp_path / "u.json"], "R4") if f.rule_id == "MSC-FHIR-012"] == []


def test_a_non_canonical_system_is_found_on_the_ndjson_fast_path(tmp_path: Path) -> None:
    """In NDJSON most resources are judged clean in one pass (fhir_clean.py) and their elements memoised: the
    resource with LOINC's OID among 300 clean ones (same elements otherwise) is still reported, at its line."""
    def obs(n: int, system: str = "http://loinc.org") -> str:
        return json.dumps({"resourceType": "Observation", "id": f"o{n}", "status": "final",
                           "code": {"coding": [{"system": system, "code": "2345-7"}]}, "valueString": "x"})
    lines = [obs(n) for n in range(300)]
    lines[250] = obs(250, "urn:oid:2.16.840.1.113883.6.1")
    (tmp_path / "Observation.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = [(f.rule_id, f.row_or_entry, f.variable_or_path) for f in fhir_rules([tmp_path / "Observation.ndjson"],
                                                                                 "R4")]
    assert found == [("MSC-FHIR-012", 251, "Observation.code.coding[0].system")]


# UCUM's canonical URI and OID: HL7 Terminology (THO) 5.2.0 External Code Systems (http://unitsofmeasure.org,
# 2.16.840.1.113883.6.8); SNOMED CT's: http://snomed.info/sct
@pytest.mark.parametrize(("system", "named"), [
    ("http://unitsofmeasure.org/", ", a non-canonical URI of UCUM: use http://unitsofmeasure.org"),
    ("https://unitsofmeasure.org", ", a non-canonical URI of UCUM: use http://unitsofmeasure.org"),
    ("urn:oid:2.16.840.1.113883.6.8", ", a non-canonical URI of UCUM: use http://unitsofmeasure.org"),
    # review: SNOMED CT's canonical URI is no UCUM either, so naming it would not clear the warning
    ("http://snomed.info/sct/", ""),
    ("https://example.org/units", ""),  # a system of someone's own: no canonical URI to name
])
def test_a_quantity_with_a_non_canonical_system_names_the_canonical_uri(
        tmp_path: Path, system: str, named: str) -> None:
    def obs(n: int, quantity_system: str = "http://unitsofmeasure.org") -> str:
        return json.dumps({"resourceType": "Observation", "id": f"o{n}", "status": "final",
                           "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
                           "valueQuantity": {"value": 5.4, "unit": "mmol/L", "system": quantity_system,
                                             "code": "mmol/L"}})
    lines = [obs(n) for n in range(300)]  # NDJSON: the others judged clean on the fast path (fhir_clean.py)
    lines[250] = obs(250, system)
    (tmp_path / "Observation.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = fhir_rules([tmp_path / "Observation.ndjson"], "R4")
    assert [(f.rule_id, f.row_or_entry, f.variable_or_path) for f in found] == [
        ("MSC-FHIR-011", 251, "Observation.valueQuantity")]
    assert found[0].message == ("Observation.valueQuantity: a Quantity with a value should have a UCUM unit (system "
                                f"http://unitsofmeasure.org and code); its system is {system}{named}"
                                + (" (systems are matched by exact URI)" if named else ""))


def test_hl7_examples_as_one_bundle_resolve_their_own_references(shared_dir: Path, tmp_path: Path) -> None:
    files = sorted((shared_dir / "external" / "fhir-examples" / "r4").glob("*.json"))
    entries = [{"fullUrl": f"http://hl7.org/fhir/{d['resourceType']}/{d['id']}", "resource": d}
               for d in (json.loads(f.read_text(encoding="utf-8")) for f in files)]
    path = tmp_path / "examples.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8")
    unresolved = [f for f in fhir_rules([path], "R4") if f.rule_id == "MSC-FHIR-008"]
    # the examples point at practitioners, encounters and orders that are not among them: relative references
    # that do not resolve inside this Bundle are reported with their entry index and FHIRPath
    assert unresolved and all(f.row_or_entry is not None and "." in f.variable_or_path for f in unresolved)
    assert not any(f.value.startswith("#") for f in unresolved), "contained references resolve"


# --- Bundles of other systems: searchset, history, transaction ------------------------------------------------

def _obs(rid: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}, **extra}


def _bundle(tmp_path: Path, btype: str, entries: list[dict[str, object]]) -> Path:
    path = tmp_path / f"{btype}.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": btype, "entry": entries}), encoding="utf-8")
    return path


@pytest.mark.parametrize(("btype", "reported"), [("searchset", False), ("history", False), ("collection", True)])
def test_searchset_and_history_bundles_need_not_hold_what_they_reference(
        tmp_path: Path, btype: str, reported: bool) -> None:
    entries = [{"fullUrl": "http://h.example/fhir/Observation/o1", "resource": _obs("o1"),
                **({"search": {"mode": "match"}} if btype == "searchset" else {}),
                **({"request": {"method": "PUT", "url": "Observation/o1"}} if btype == "history" else {})},
               {"fullUrl": "http://h.example/fhir/Observation/o2",
                "resource": _obs("o2", hasMember=[{"reference": "#nowhere"}])}]
    found = [(f.rule_id, f.value) for f in fhir_rules([_bundle(tmp_path, btype, entries)], "R4")
             if f.rule_id == "MSC-FHIR-008"]
    patients = [("MSC-FHIR-008", "Patient/p1")] * 2 if reported else []
    assert sorted(found) == sorted([*patients, ("MSC-FHIR-008", "#nowhere")])  # contained: checked in any Bundle


@pytest.mark.parametrize("btype", ["transaction", "batch", "history"])
def test_an_entry_with_a_request_or_response_needs_no_resource(tmp_path: Path, btype: str) -> None:
    """bdl-5: a DELETE (transaction, batch) or a deleted version (history) has no resource; an entry with neither
    a resource nor a request or response is still reported."""
    delete = {"request": {"method": "DELETE", "url": "Observation/x"}, **(
        {"response": {"status": "204"}} if btype == "history" else {})}
    entries = [{"fullUrl": "urn:uuid:00000000-0000-0000-0000-000000000001", "resource": _obs("o1"),
                "request": {"method": "PUT", "url": "Observation/o1"}}, delete, {"fullUrl": "urn:uuid:1"}]
    found = [(f.rule_id, f.row_or_entry) for f in fhir_rules([_bundle(tmp_path, btype, entries)], "R4")
             if f.rule_id == "MSC-FHIR-001"]
    assert found == [("MSC-FHIR-001", 2)]


@pytest.mark.parametrize(("btype", "versions", "reported"), [
    ("history", ("1", "1"), False), ("history", (None, None), False),  # bdl-7: except in history bundles
    ("collection", ("1", "2"), False), ("collection", ("1", "1"), True), ("collection", (None, None), True)])
def test_versions_of_a_resource_in_a_bundle(tmp_path: Path, btype: str, versions: tuple[str | None, ...],
                                            reported: bool) -> None:
    entries = [{"fullUrl": "http://h.example/fhir/Observation/o1",
                "resource": _obs("o1", **({"meta": {"versionId": v}} if v else {}))} for v in versions]
    found = [f for f in fhir_rules([_bundle(tmp_path, btype, entries)], "R4") if f.rule_id == "MSC-FHIR-009"]
    assert [f.row_or_entry for f in found] == ([0, 1] if reported else [])


def test_findings_in_a_bundles_entries_are_reported_once_at_the_resource(tmp_path: Path) -> None:
    obs = _obs("o1", effectiveDateTime="2021-02-30", category=[{"coding": [{"code": "laboratory"}]}])
    obs["code"]["coding"][0]["code"] = "2345-8"  # type: ignore[index]
    path = _bundle(tmp_path, "collection", [{"fullUrl": "http://h.example/fhir/Patient/p1",
                                             "resource": {"resourceType": "Patient", "id": "p1"}},
                                            {"fullUrl": "http://h.example/fhir/Observation/o1", "resource": obs}])
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, "timestamp": "2021-02-30T00:00:00Z"}), encoding="utf-8")
    found = sorted((f.rule_id, f.dataset_or_resource, f.row_or_entry, f.variable_or_path)
                   for f in fhir_rules([path], "R4"))
    assert found == [("MSC-FHIR-003", "Observation/o1", 1, "Observation.category[0].coding[0]"),
                     ("MSC-FHIR-006", "Observation/o1", 1, "Observation.code.coding[0].code"),
                     ("MSC-FHIR-010", "Bundle", None, "Bundle.timestamp"),
                     ("MSC-FHIR-010", "Observation/o1", 1, "Observation.effectiveDateTime")]


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("form", ["json", "ndjson"])
def test_a_decimal_written_as_a_json_string_is_an_error(tmp_path: Path, form: str, deep: bool) -> None:
    """FHIR JSON decimals are JSON numbers; the models take "5.4" (lax), the schema and from-fhir do not."""
    ucum = {"unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    good, bad = _obs("o1", valueQuantity={"value": 5.4, **ucum}), _obs("o2", valueQuantity={"value": "5.4", **ucum})
    if form == "json":
        path = _bundle(tmp_path, "collection", [{"fullUrl": f"urn:uuid:{n}", "resource": r}
                                                for n, r in enumerate([good, bad])])
    else:
        path = tmp_path / "Observation.ndjson"
        path.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n", encoding="utf-8")
    found = [(f.rule_id, f.severity, f.dataset_or_resource, f.variable_or_path, f.value)
             for f in fhir_rules([path], "R4", deep=deep) if f.rule_id != "MSC-FHIR-008"]
    assert found == [("MSC-FHIR-001", "error", "Observation/o2", "Observation.valueQuantity.value", "5.4")]


# --- reading, NDJSON, versions, hooks ------------------------------------------------------------------------------

def test_ndjson_lines_are_located_and_bad_lines_reported(tmp_path: Path) -> None:
    bundle = json.loads((FHIR_DATA / "bundle_r4.json").read_text(encoding="utf-8"))
    lines = [json.dumps(e["resource"]) for e in bundle["entry"]]
    lines.insert(2, "{not json")
    (tmp_path / "all.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    findings = validate_paths([tmp_path / "all.ndjson"]).findings
    assert [(f.rule_id, f.row_or_entry) for f in findings] == [("MSC-IO-001", 3)]


def test_ndjson_files_given_together_resolve_across_files(tmp_path: Path) -> None:
    bundle = json.loads((FHIR_DATA / "bundle_r4.json").read_text(encoding="utf-8"))
    by_type: dict[str, list[str]] = {}
    for e in bundle["entry"]:
        by_type.setdefault(e["resource"]["resourceType"], []).append(json.dumps(e["resource"]))
    for rtype, rows in by_type.items():
        (tmp_path / f"{rtype}.ndjson").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert validate_paths([tmp_path]).findings == []
    (tmp_path / "Patient.ndjson").unlink()  # references to a type that is not given are not checked
    assert validate_paths([tmp_path]).findings == []


def test_versions() -> None:
    assert normalize_version(None) == "R4" and normalize_version("r4b") == "R4" and normalize_version("R5") == "R5"
    with pytest.raises(MscInteropError, match="R4 or R5"):
        normalize_version("STU3")


def test_r5_adverse_event_status_is_a_required_binding_in_r5_only() -> None:
    binding = next(b for b in get_rule("MSC-FHIR-002").params["bindings"] if b["path"] == "AdverseEvent.status")
    assert "R4" not in binding and "completed" in binding["R5"]


def test_a_file_that_is_not_a_resource(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"resourceType": 5}', encoding="utf-8")
    ctx, problems = read_fhir([tmp_path / "x.json"])
    assert ctx.items == [] and [p.rule_id for p in problems] == ["MSC-IO-001"]


def test_hooks_run_and_a_crashing_hook_is_a_finding(tmp_path: Path, monkeypatch) -> None:
    module = importlib.import_module("msc_interop.validate.fhir_rules")
    assert FHIR_HOOKS is module.FHIR_HOOKS and FHIR_HOOKS == {}, "empty until the FHIR package registers its checks"
    monkeypatch.setattr(module, "FHIR_HOOKS", {})
    seen = []
    register_fhir_hook("test.sees", lambda paths, version: seen.append((list(paths), version)) or [])
    register_fhir_hook("test.crashes", lambda paths, version: 1 / 0)
    findings = module.fhir_rules([FHIR_DATA / "bundle_r4.json"], "R4")
    assert seen == [([FHIR_DATA / "bundle_r4.json"], "R4")]
    assert [(f.rule_id, f.message) for f in findings] == [
        ("test.crashes", "rule could not run: ZeroDivisionError: division by zero")]


# --- scale: reference resolution is linear -----------------------------------------------------------------------

def _big_bundle(path: Path, n: int) -> None:
    patients = max(1, n // 50)
    entries = [{"fullUrl": f"urn:uuid:p-{i}", "resource": {"resourceType": "Patient", "id": f"p{i}"}}
               for i in range(patients)]
    entries += [{"fullUrl": f"urn:uuid:o-{i}", "resource": {
        "resourceType": "Observation", "id": f"o{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
        "subject": {"reference": f"Patient/p{i % patients}" if i % 2 else f"urn:uuid:p-{i % patients}"},
        "effectiveDateTime": "2009-03-20T08:30:00+08:00",
        "valueQuantity": {"value": 5.6, "system": "http://unitsofmeasure.org", "code": "10*9/L"}}}
        for i in range(n - patients)]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8")


def test_reference_check_is_linear_by_construction(tmp_path: Path, monkeypatch) -> None:
    """One index per Bundle, built once, and one constant-time look-up per reference (no timing: counts)."""
    module = importlib.import_module("msc_interop.validate.fhir_rules")
    calls = {"index": 0, "resolve": 0}
    real_indexes, real_resolves = module._indexes, module._resolves

    def indexes(ctx):
        calls["index"] += 1
        return real_indexes(ctx)

    def resolves(*args):
        calls["resolve"] += 1
        return real_resolves(*args)

    monkeypatch.setattr(module, "_indexes", indexes)
    monkeypatch.setattr(module, "_resolves", resolves)
    _big_bundle(tmp_path / "big.json", 20_000)
    ctx, _ = read_fhir([tmp_path / "big.json"], "R4")
    assert list(module.references_resolve(ctx, get_rule("MSC-FHIR-008"))) == []
    assert calls == {"index": 1, "resolve": 20_000 - 400}  # each Observation has one subject reference


# --- MSC-FHIR-013: one page of a search result; MSC-FHIR-014: a LOINC display of another test --------------------

def _searchset(stem: str, n: int, total: int | None, self_url: str, next_url: str | None,
               btype: str = "searchset") -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}] + ([{"relation": "next", "url": next_url}] if next_url else [])
    entries = [{"fullUrl": f"{self_url}#{i}", "search": {"mode": "match"}, "resource": {
        "resourceType": "Observation", "id": f"{stem}-{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]}}} for i in range(n)]
    bundle = {"resourceType": "Bundle", "id": stem, "type": btype, "link": links, "entry": entries}
    return bundle | ({"total": total} if total is not None else {})


def _page(path: Path, n: int, total: int | None, self_url: str, next_url: str | None) -> Path:
    path.write_text(json.dumps(_searchset(path.stem, n, total, self_url, next_url)), encoding="utf-8")
    return path


def _pages_found(paths: list[Path]) -> list[tuple[str, str, int | None, str]]:
    return [(Path(f.file).name, f.dataset_or_resource, f.row_or_entry, f.message)
            for f in fhir_rules(paths, "R4") if f.rule_id == "MSC-FHIR-013"]


def test_pages_of_a_search_result_are_judged_together(tmp_path: Path) -> None:
    url = "http://h.example/fhir/Observation?code=6690-2"
    one = _page(tmp_path / "one.json", 2, 3, url, url + "&page=2")
    two = _page(tmp_path / "two.json", 1, 3, url + "&page=2", None)

    def found(paths: list[Path]) -> list[tuple[str, str]]:
        return [(Path(f.file).name, f.message) for f in fhir_rules(paths, "R4") if f.rule_id == "MSC-FHIR-013"]

    assert found([one, two]) == []  # every page given
    alone = found([one])
    assert [x[0] for x in alone] == ["one.json"]
    assert "the page given holds 2: 1 were not given" in alone[0][1] and f"({url}&page=2) was not followed" in \
        alone[0][1]
    assert "msc-interop pull --server http://h.example/fhir" in alone[0][1]
    later = found([two])  # the last page alone: fewer matches than the total, no next link
    assert [x[0] for x in later] == ["two.json"] and "holds 1: 2 were not given" in later[0][1]


URL = "http://h.example/fhir/Observation?code=6690-2"


def test_a_page_on_an_ndjson_line_or_in_a_batch_response_is_judged(tmp_path: Path) -> None:
    """Where from-fhir finds pages, validate looks too: a Bundle on an NDJSON line, one in a Bundle's entry."""
    page = _searchset("p1", 2, 4, URL, URL + "&page=2")
    (tmp_path / "pages.ndjson").write_text(json.dumps(_patient_line()) + "\n" + json.dumps(page) + "\n",
                                           encoding="utf-8")
    found = _pages_found([tmp_path / "pages.ndjson"])
    assert [x[:3] for x in found] == [("pages.ndjson", "Bundle/p1", 2)]
    assert found[0][3].startswith("pages.ndjson line 2: a searchset Bundle that is one page of a search result")
    response = {"resourceType": "Bundle", "type": "batch-response",
                "entry": [{"response": {"status": "200 OK"}}, {"resource": page, "response": {"status": "200 OK"}}]}
    (tmp_path / "b.json").write_text(json.dumps(response), encoding="utf-8")
    found = _pages_found([tmp_path / "b.json"])
    assert [x[:3] for x in found] == [("b.json", "Bundle/p1", 1)]
    assert found[0][3].startswith("b.json entry 1: a searchset Bundle") and "2 were not given" in found[0][3]


def _patient_line() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "x"}


def test_pages_in_a_json_file_and_on_ndjson_lines_are_linked(tmp_path: Path) -> None:
    one = _page(tmp_path / "one.json", 2, 5, URL, URL + "&page=2")
    lines = [_searchset("p3", 1, 5, URL + "&page=3", None), _searchset("p2", 2, 5, URL + "&page=2", URL + "&page=3")]
    (tmp_path / "rest.ndjson").write_text("".join(json.dumps(b) + "\n" for b in lines), encoding="utf-8")
    assert _pages_found([one, tmp_path / "rest.ndjson"]) == []
    (tmp_path / "rest.ndjson").write_text(json.dumps(lines[1]) + "\n", encoding="utf-8")  # page 3 not given
    found = _pages_found([one, tmp_path / "rest.ndjson"])
    assert [x[:3] for x in found] == [("rest.ndjson", "Bundle/p2", 1)]
    assert found[0][3].startswith("one.json, rest.ndjson line 1: 2 pages of one searchset result")


def test_the_last_page_with_a_next_link_and_every_match_counted_is_no_finding(tmp_path: Path) -> None:
    """Bundle.total counts the matches of every page: 2 of 2 given, the next link leads to no more."""
    assert _pages_found([_page(tmp_path / "p.json", 2, 2, URL, URL + "&page=2")]) == []


@pytest.mark.parametrize("btype", ["collection", "transaction", "batch"])
def test_only_searchset_and_history_bundles_are_pages(tmp_path: Path, btype: str) -> None:
    (tmp_path / "b.json").write_text(json.dumps(_searchset("b", 2, None, URL, URL + "&page=2", btype)),
                                     encoding="utf-8")
    assert _pages_found([tmp_path / "b.json"]) == []


@pytest.mark.parametrize(("display", "other"), [
    ("Hemoglobin [Mass/volume] in Blood", "718-7"),  # another code's long common name
    ("Glucose [Moles/volume] in Serum or Plasma", "14749-6"),  # the same test in substance units: another code
    ("hemoglobin  [MASS/volume] in blood ", "718-7"),  # case and spaces aside
    ("Glucose SerPl-mCnc", None),  # its LOINC SHORTNAME: FHIR allows it as the display (not held: not judged)
    ("Glucose [Mass/volume] in Serum", None),  # an older long name, a lab's text: not held, not judged
    ("Glucose, fasting", None),
    ("Hgb Bld-mCnc", None),  # 718-7's SHORTNAME: not held, so not known to be another code's name
    ("glucose [mass/VOLUME] in serum or plasma ", None),  # its own long common name: case and spaces aside
    ("Glucose", None),  # the catalogue's own name of its test (LBTEST)
    ("Blood sugar", None),  # an alias of the test (lab_tests.yaml aliases)
])
def test_a_loinc_display_is_reported_only_when_it_is_another_codes_name(tmp_path: Path, display: str,
                                                                        other: str | None) -> None:
    obs = {"resourceType": "Observation", "id": "g", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": display}]}}
    (tmp_path / "g.json").write_text(json.dumps(obs), encoding="utf-8")
    found = [f for f in fhir_rules([tmp_path / "g.json"], "R4") if f.rule_id == "MSC-FHIR-014"]
    assert [(f.severity, f.variable_or_path, f.value) for f in found] == (
        [("warning", "Observation.code.coding[0].display", display)] if other else [])
    if other:
        assert f"it is the LOINC name of {other}; LOINC 2345-7 is 'Glucose [Mass/volume] in Serum or Plasma'" in \
            found[0].message


@pytest.mark.parametrize("system", ["http://loinc.org/", "urn:oid:2.16.840.1.113883.6.1", "https://loinc.org"])
def test_a_loinc_coding_by_a_variant_uri_is_judged_as_from_fhir_reads_it(tmp_path: Path, system: str) -> None:
    """from-fhir reads these systems as LOINC (fhir/systems.py), so its display is judged as LOINC's too."""
    rows = [{"resourceType": "Observation", "id": f"g{i}", "status": "final",
             "code": {"coding": [{"system": system, "code": "2345-7", "display": display}]}}
            for i, display in enumerate(["Hemoglobin [Mass/volume] in Blood", "Glucose SerPl-mCnc"])]
    (tmp_path / "g.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "g.json").write_text(json.dumps(rows[0]), encoding="utf-8")
    found = [(Path(f.file).name, f.dataset_or_resource, f.rule_id) for f in
             fhir_rules([tmp_path / "g.json", tmp_path / "g.ndjson"], "R4") if f.rule_id in ("MSC-FHIR-012",
                                                                                              "MSC-FHIR-014")]
    assert sorted(found) == sorted([("g.json", "Observation/g0", "MSC-FHIR-012"),
                                    ("g.json", "Observation/g0", "MSC-FHIR-014"),
                                    ("g.ndjson", "Observation/g0", "MSC-FHIR-012"),
                                    ("g.ndjson", "Observation/g0", "MSC-FHIR-014"),
                                    ("g.ndjson", "Observation/g1", "MSC-FHIR-012")])


def test_a_loinc_code_the_mapping_holds_no_names_for_is_not_judged(tmp_path: Path) -> None:
    obs = {"resourceType": "Observation", "id": "x", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "99999-9", "display": "Anything at all"}]}}
    (tmp_path / "x.json").write_text(json.dumps(obs), encoding="utf-8")
    assert not [f for f in fhir_rules([tmp_path / "x.json"], "R4") if f.rule_id == "MSC-FHIR-014"]
