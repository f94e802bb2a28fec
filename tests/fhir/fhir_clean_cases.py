"""NDJSON sets on which the one-pass check of validate/fhir_clean.py must give exactly the findings of the rule
functions of validate/fhir_rules.py: the FHIR validate test inputs as NDJSON, and seeded-bad NDJSON that breaks
each rule in the places a single walk could miss (nested elements, components, contained resources, narrative,
non-dict array members, numbers that are booleans, references of every form, ids repeated across files, pages of a
search result on lines far apart).

`cases(root, written, shared)` writes them under `root` and returns {name: (NDJSON paths, version or None)}.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
NAMES = [*(f"{kind}-{v}" for v in ("R4", "R5") for kind in ("written", "mutated-given", "mutated-detected")),
         "bundle_r4-lines", "bundle_r4-by-type", "bundle_r4-no-patients", "synthea-like", "hl7-r4", "hl7-r4b", "hl7-r5",
         "seeded-interpretation", "seeded-references", "seeded-nested-R4", "seeded-nested-R5"]


def mutate(folder: Path) -> None:
    """Break the written NDJSON in each way a FHIR rule (or the reader) looks at."""
    obs = folder / "Observation.ndjson"
    rows = [orjson.loads(x) for x in obs.read_bytes().splitlines()]
    rows[0]["foo"] = 1                                                  # MSC-FHIR-001 unknown element
    rows[1]["status"] = 5                                               # MSC-FHIR-001 wrong type
    rows[2]["subject"] = {"reference": "Patient/nobody"}                # MSC-FHIR-008 broken reference
    rows[3]["id"] = rows[4]["id"]                                       # MSC-FHIR-009 duplicate id
    rows[5]["code"]["coding"][0]["code"] = "6690-3"                     # MSC-FHIR-006 LOINC check digit
    rows[6]["effectiveDateTime"] = "2009-02-30"                         # MSC-FHIR-010 impossible date
    rows[7]["status"] = "done"                                          # MSC-FHIR-002 value set
    rows[8]["specimen"] = {"reference": "#nospec"}                      # MSC-FHIR-008 contained not there
    rows[9]["code"]["coding"][0].pop("system")                          # MSC-FHIR-003 code without system
    if "valueQuantity" in rows[10]:
        rows[10]["valueQuantity"]["code"] = "mg//dL"                    # MSC-FHIR-005 UCUM
        rows[11]["valueQuantity"].pop("system")                         # MSC-FHIR-004
    rows[12]["meta"] = {"lastUpdated": "2009-10-04T09:19"}              # MSC-FHIR-001 (instant without offset)
    rows[13]["extension"] = [{"url": "http://x", "valueDecimal": "1.0"}]  # schema stricter: models accept
    for r in rows[14:40]:
        if isinstance(r.get("interpretation"), list) and isinstance(r.get("referenceRange"), list):
            r["interpretation"][0]["coding"][0]["code"] = "H"            # MSC-FHIR-007 (where the value is not high)
    rows[41]["code"]["coding"][0]["system"] = "http://loinc.org/"      # MSC-FHIR-012 non-canonical URI
    rows[42]["code"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.1"  # MSC-FHIR-012 (LOINC's OID)
    rows[43]["code"]["coding"][0]["display"] = "Hemoglobin [Mass/volume] in Blood"  # MSC-FHIR-014 another test's
    shout = rows[44]["code"]["coding"][0]
    shout["display"] = f" {shout['display'].upper()}  "                # case and spaces: no MSC-FHIR-014
    out = [orjson.dumps(r) for r in rows]
    out[20:20] = [b"", b"{not json", b"[1, 2]", orjson.dumps({"resourceType": "Nope", "id": "n1"})]
    obs.write_bytes(b"\n".join(out) + b"\n")
    pat = folder / "Patient.ndjson"
    first = pat.read_bytes().splitlines()[0]
    with pat.open("ab") as fh:
        fh.write(first + b"\n")                                         # a duplicate across lines


def _write(folder: Path, files: dict[str, list[Any]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, rows in files.items():
        path = folder / name
        path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows))
        out.append(path)
    return sorted(out)


def _q(value: Any, code: Any = "mg/dL", system: Any = UCUM, **more: Any) -> dict[str, Any]:
    q = {"value": value, "unit": "mg/dL", "system": system, "code": code, **more}
    return {k: v for k, v in q.items() if v is not None}


def _obs(rid: str, value: Any = 5, low: Any = 1, high: Any = 10, codes: Any = ("N",), **more: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation", "id": rid, "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2345-7", "display": "Glucose"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-02T10:00:00+01:00",
        "valueQuantity": _q(value) if not isinstance(value, dict) else value,
        "interpretation": [{"coding": [{"system": V3, "code": c} for c in codes]}],
        "referenceRange": [{"low": _q(low), "high": _q(high)}]}
    r.update(more)
    return {k: v for k, v in r.items() if v is not None}


def _interpretation() -> list[Any]:
    """MSC-FHIR-007 in every form the rule distinguishes."""
    rows: list[Any] = [{"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"}]
    rows += [
        _obs("i1", 5, codes=("H",)), _obs("i2", 0.5, codes=("N",)), _obs("i3", 11, codes=("L", "N")),
        _obs("i4", 11, codes=("H",)), _obs("i5", 0.5, codes=("LL", "<")), _obs("i6", 20, codes=("HH", ">", "HU")),
        _obs("i7", 5, codes=("LU",)), _obs("i8", 1, codes=("L",)), _obs("i9", 10, codes=("H",)),
        _obs("i10", 5, low=None, codes=("L",)), _obs("i11", 50, high=None, codes=("H", "N")),
        _obs("i12", 5, codes=("H",), referenceRange=[{"low": _q(1, "g/L"), "high": _q(10)}]),
        _obs("i13", 5, codes=("H",), referenceRange=[{"low": _q(1, "g/L"), "high": _q(10, "g/L")}]),
        _obs("i14", 5, codes=("H",), referenceRange=[{"text": "normal"}]),
        _obs("i15", 5, codes=("H",), referenceRange=["x", {"low": _q(1)}]),
        _obs("i16", True, codes=("H",)), _obs("i17", {"value": True, "code": "mg/dL", "system": UCUM}),
        _obs("i18", 5, codes=("H",), referenceRange=[{"low": _q(True), "high": _q(2)}]),
        _obs("i19", 5, interpretation=[{"coding": [{"code": "H"}, {"system": "http://other", "code": "H"},
                                                   "x", {"system": V3, "code": "A"}]}, "y", {"text": "no coding"}]),
        _obs("i20", 5, interpretation=[]), _obs("i21", 5, referenceRange=[]),
        _obs("i22", 5, interpretation={"coding": [{"system": V3, "code": "H"}]}),
        _obs("i23", "5", codes=("H",)), _obs("i24", 5.0, low=5.0, high=5.0, codes=("H", "L")),
        _obs("i25", 3, codes=("H",), valueQuantity={"value": 3}),
        _obs("i26", 3, codes=("H",), valueQuantity={"value": 3, "code": "g/L", "system": UCUM}),
        _obs("i27", 3, codes=("H",), referenceRange=[{"low": {"value": 1}, "high": {"value": 2, "code": "g/L"}}]),
        _obs("i28", 3, valueQuantity=None, valueString="high", codes=("H",)),
        _obs("i29", -1e308, codes=("N",)), _obs("i30", 2**62, codes=("N",)),
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
         "interpretation": [{"coding": [{"system": V3, "code": "H"}]}]},
    ]
    # the same elements again in other resources (a walk that remembers elements must still report each)
    rows += [_obs(f"r{i}", 5 + i, codes=("H",) if i % 2 else ("N",)) for i in range(12)]
    return rows


def _references() -> dict[str, list[Any]]:
    """MSC-FHIR-008 and -009: every form of reference, ids repeated within and across files."""
    pats: list[Any] = [{"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p2"},
                       {"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": ""},
                       {"resourceType": "Patient", "id": 7}, {"resourceType": "Patient"}]
    obs: list[Any] = [
        _obs("o1"), _obs("o1", subject={"reference": "Patient/p9"}),
        _obs("o2", subject={"reference": "Patient/p2/_history/3"}),
        _obs("o3", subject={"reference": "Patient/p9/_history/3"}),
        _obs("o4", subject={"reference": "http://example.org/fhir/Patient/p9"}),
        _obs("o5", subject={"reference": "urn:uuid:0a8b2c1e-0000-4000-8000-000000000000"}),
        _obs("o6", subject={"reference": "Group/g1"}, encounter={"reference": "Encounter/e9"}),
        _obs("o7", specimen={"reference": "#s1"}, contained=[{"resourceType": "Specimen", "id": "s1"}]),
        _obs("o8", specimen={"reference": "#s2"}, contained=[{"resourceType": "Specimen", "id": "s1"}, "x"]),
        _obs("o9", specimen={"reference": "#"}), _obs("o10", specimen={"reference": "#s1"}),
        _obs("o11", specimen={"reference": "#s1"}, contained={"resourceType": "Specimen", "id": "s1"}),
        _obs("o12", hasMember=[{"reference": "Observation/o1"}, {"reference": "Observation/zz"}, "x",
                               {"reference": "Observation/o2"}, {"reference": "Observation/zz"}]),
        _obs("o13", component=[{"code": {"text": "c"}, "valueQuantity": _q(1, None),
                                "extension": [{"url": "http://x", "valueReference": {"reference": "Device/d1"}}]}]),
        _obs("o14", extension=[{"url": "http://x", "valueReference": {"reference": "Patient/p9"}},
                               {"url": "http://y", "extension": [{"url": "z",
                                                                  "valueReference": {"reference": "Patient/p8"}}]}]),
        _obs("o15", subject={"reference": "patient/p1"}),
        _obs("o16", subject={"reference": "Patient/p1", "display": "x"}, performer=[{"display": "lab"}]),
        _obs("o17", contained=[{"resourceType": "Specimen", "id": "s1",
                                "subject": {"reference": "Patient/p7"}}], specimen={"reference": "#s1"}),
        _obs("o18", id=None), _obs("o19", subject={"reference": 5}),
        _obs("o1"), _obs("o20", subject={"reference": "Patient/" + "x" * 65}),
    ]
    obs += [_obs(f"same{i}", subject={"reference": "Patient/p9"}) for i in range(5)]
    enc: list[Any] = [{"resourceType": "Encounter", "id": "e1", "status": "finished",
                       "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                       "subject": {"reference": "Patient/p1"}, "partOf": {"reference": "Encounter/e2"}},
                      {"resourceType": "Observation", "id": "o1"}, {"resourceType": "Patient", "id": "p2"}]
    return {"Patient.ndjson": pats, "Observation.ndjson": obs, "z_more.ndjson": enc}


def _nested() -> list[Any]:
    """MSC-FHIR-002..006 and -010 below the top level, in narrative, in contained resources."""
    div = '<div xmlns="http://www.w3.org/1999/xhtml">2009-02-30</div>'
    return [
        {"resourceType": "Patient", "id": "p1", "gender": "woman", "birthDate": "1970-02-30",
         "text": {"status": "generated", "div": div},
         "maritalStatus": {"coding": [{"code": "M"}, {"system": "http://x"}, {"display": "only"}, {}]},
         "extension": [{"url": "http://x", "valueCoding": {"code": "a"}},
                       {"url": "http://y", "valueDate": "2009-13-01"},
                       {"url": "http://z", "valueDateTime": 20090101}]},
        {"resourceType": "Patient", "id": "p2", "gender": 1, "deceasedDateTime": "2020-01-01T10:00"},
        _obs("n1", component=[{"code": {"coding": [{"system": LOINC, "code": "8480-7"}, {"system": LOINC,
                                                                                      "code": "8480-6"}]},
                               "valueQuantity": _q(120, "mm[Hg]", None),
                               "referenceRange": [{"low": _q(1, None, None)}]}],
             effectivePeriod={"start": "2020-01-01", "end": "2020-02-31"}, effectiveDateTime=None,
             issued="2020-01-01T10:00:00", meta={"lastUpdated": "2020-01-01T10:00:00Z"}),
        _obs("n2", valueQuantity=_q(5, "mg//dL"), referenceRange=[{"low": _q(1, None), "high": _q(10, "g/L", "http://x")},
                                                                 {"low": _q(2, "mg/dL", None)}, "x",
                                                                 {"high": {"unit": "mg/dL"}}, {"high": 3}]),
        _obs("n3", valueQuantity={"value": 1, "unit": "x"}, code={"coding": [{"system": LOINC, "code": "12345"},
                                                                            {"system": LOINC, "code": 12345},
                                                                            {"system": LOINC, "code": ""}, "x"]}),
        _obs("n4", valueQuantity={"value": 1}, category=[{"coding": [{"system": "http://x"}]}, "y"],
             status="done", text={"status": "generated", "div": div, "x": {"effectiveDateTime": "bad"}}),
        _obs("n5", status=None, valueQuantity={"unit": "mg"}, contained=[
            {"resourceType": "Observation", "id": "c", "status": "done", "effectiveDateTime": "2020-99-01",
             "code": {"coding": [{"code": "1"}]}, "valueQuantity": {"value": 1}}]),
        {"resourceType": "MedicationAdministration", "id": "m1", "status": "given",
         "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-01",
         "medicationCodeableConcept": {"coding": [{"system": "http://x", "code": "a"}]},
         "dosage": {"dose": {"value": 5, "unit": "mg"}, "route": {"coding": [{"code": "PO"}]}}},
        {"resourceType": "MedicationAdministration", "id": "m2", "status": "completed",
         "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-01",
         "medicationCodeableConcept": {"text": "x"}, "dosage": {"dose": {"value": 5, "system": UCUM, "code": "mg"}}},
        {"resourceType": "AdverseEvent", "id": "a1", "actuality": "maybe", "status": "completed",
         "subject": {"reference": "Patient/p1"}, "detected": "2020-01-01T25:00:00Z", "recordedDate": "2020"},
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"},
         "subject": {"reference": "Patient/p1"}, "period": {"start": "2020-01-01T10:00:00+01:00", "end": "x"}},
        {"resourceType": "Bundle", "id": "b1", "type": "nope"},
        {"resourceType": "Observation"}, {"resourceType": "Observation", "id": "n6", "status": ["final"]},
        {"resourceType": "Observation", "id": "n7", "status": "final", "code": {"text": "x"},
         "_status": {"extension": [{"url": "http://x", "valueCoding": {"system": "http://x"}}]},
         "valueQuantity": {"value": 1, "system": UCUM, "code": "mg/dL", "_value": {"extension": []}}},
        _obs("n8", note=[{"text": "a"}], derivedFrom=[], identifier=[{"system": "http://x", "value": "1",
                                                                        "period": {"start": "2020-01-32"}}]),
    ]


def _page(stem: str, total: int, n: int, self_url: str, **links: str) -> dict[str, Any]:
    """A searchset Bundle that is a page of a search result (MSC-FHIR-013): `links` next=..., previous=..."""
    return {"resourceType": "Bundle", "id": stem, "type": "searchset", "total": total,
            "link": [{"relation": "self", "url": self_url}, *({"relation": r, "url": u} for r, u in links.items())],
            "entry": [{"fullUrl": f"http://h.example/fhir/Observation/{stem}-{i}", "search": {"mode": "match"},
                       "resource": _obs(f"{stem}-{i}")} for i in range(n)]}


def _with_pages(rows: list[Any]) -> list[Any]:
    """MSC-FHIR-013 on NDJSON lines: pages 1 and 2 of one result on the first and the last line (in different
    partitions of a cut set: linked when the set is read), page 2's self its next link written otherwise; a page
    alone whose next page is not given; one in a batch-response whose next page is not given either."""
    url = "http://h.example/fhir/Observation?patient=p1&_count=2"
    alone = _page("q1", 9, 2, "http://h.example/fhir/Observation?code=2345-7", next="http://h.example/fhir/x?page=2")
    held = _page("r1", 5, 2, "http://h.example/fhir/Observation?subject=p1", next="http://h.example/fhir/y?page=2")
    response = {"resourceType": "Bundle", "id": "resp", "type": "batch-response",
                "entry": [{"resource": held, "response": {"status": "200 OK"}}]}
    return [_page("a1", 3, 2, url, next=url + "&_offset=2"), *rows[:3], alone, *rows[3:], response,
            _page("a2", 3, 1, "http://h.example/fhir/Observation?_offset=2&_count=2&patient=p1", previous=url)]


def cases(root: Path, written: dict[str, Path], shared: Path | None) -> dict[str, tuple[list[Path], str | None]]:
    """The named NDJSON sets (see the module docstring)."""
    out: dict[str, tuple[list[Path], str | None]] = {}
    for version in ("R4", "R5"):
        clean = root / f"written-{version}"
        clean.mkdir(parents=True)
        for p in sorted(written[version].glob("*.ndjson")):
            shutil.copy(p, clean / p.name)
        out[f"written-{version}"] = (sorted(clean.glob("*.ndjson")), None)
        bad = root / f"mutated-{version}"
        shutil.copytree(clean, bad)
        mutate(bad)
        out[f"mutated-given-{version}"] = (sorted(bad.glob("*.ndjson")), version)
        out[f"mutated-detected-{version}"] = (sorted(bad.glob("*.ndjson")), None)
    bundle = orjson.loads((REPO / "tests" / "data" / "fhir" / "bundle_r4.json").read_bytes())
    resources = [e["resource"] for e in bundle["entry"]]
    out["bundle_r4-lines"] = (_write(root / "bundle_r4-lines", {"all.ndjson": [
        *resources[:2], b"{not json", *resources[2:], b"[1]", b"  "]}), None)
    by_type: dict[str, list[Any]] = {}
    for r in resources:
        by_type.setdefault(f"{r['resourceType']}.ndjson", []).append(r)
    out["bundle_r4-by-type"] = (_write(root / "bundle_r4-by-type", by_type), "R4")
    without = {k: v for k, v in by_type.items() if k != "Patient.ndjson"}
    out["bundle_r4-no-patients"] = (_write(root / "bundle_r4-no-patients", without), "R4")
    synthea = orjson.loads((HERE / "data" / "synthea_like_bundle.json").read_bytes())
    out["synthea-like"] = (_write(root / "synthea-like", {"all.ndjson": [
        e["resource"] for e in synthea.get("entry", []) if isinstance(e, dict) and "resource" in e]}), None)
    if shared is not None:
        for version in ("r4", "r4b", "r5"):
            files = sorted((shared / "external" / "fhir-examples" / version).glob("*.json"))
            docs = [orjson.loads(f.read_bytes()) for f in files]
            out[f"hl7-{version}"] = (_write(root / f"hl7-{version}", {"examples.ndjson": docs}),
                                     "R5" if version == "r5" else "R4")
    out["seeded-interpretation"] = (_write(root / "seeded-interpretation", {"o.ndjson": _interpretation()}), "R4")
    out["seeded-references"] = (_write(root / "seeded-references", _references()), "R4")
    out["seeded-nested-R4"] = (_write(root / "seeded-nested-R4", {"n.ndjson": _with_pages(_nested())}), "R4")
    out["seeded-nested-R5"] = (_write(root / "seeded-nested-R5", {"n.ndjson": _with_pages(copy.deepcopy(_nested()))}),
                               "R5")
    return out
