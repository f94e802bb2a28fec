"""Bad FHIR for from-fhir (issue 17): elements of the wrong JSON type (made by code, per element the readers use and
per JSON type), resources that appear twice, subjects given by identifier, references to nothing, unreadable
lines and files, Observations without their test code or with a unit no table knows.

The element lists here are this module's own (what the readers are expected to use), not imported from the readers:
an element a reader uses that is missing here, or one listed that it ignores, shows as a failing case.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .registry import case, edit_bundle_entry, edit_json

N = {"Observation": 494 + 450 + 275 + 45, "Patient": 9, "ResearchSubject": 9, "AdverseEvent": 1,
     "MedicationAdministration": 18,
     "Encounter": 63, "ResearchStudy": 2}


def one_rejected(rtype: str, k: int = 1) -> dict[str, tuple[int, int, int]]:
    return {rtype: (N[rtype], N[rtype] - k, k)}


def none_rejected(rtype: str, extra: int = 0) -> dict[str, tuple[int, int, int]]:
    return {rtype: (N[rtype] + extra, N[rtype], 0)}


# --- paths inside a resource: "a.b[0].c" ------------------------------------------------------------------------

def _steps(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        out.append(name)
        if rest:
            out.append(int(rest.rstrip("]")))
    return out


def get_path(res: Any, path: str) -> Any:
    for step in _steps(path):
        res = res[step]
    return res


def set_path(res: dict[str, Any], path: str, value: Any) -> None:
    """Set the element at `path`, making the objects on the way that are missing."""
    steps = _steps(path)
    node: Any = res
    for step, following in itertools.pairwise(steps):
        if isinstance(step, str) and step not in node:
            node[step] = [] if isinstance(following, int) else {}
        node = node[step]
    node[steps[-1]] = value


# --- the wrong JSON values for an element of each kind --------------------------------------------------------

LABELS = {"string": "a-string", "number": "a-number", "boolean": "true", "null": "null", "list": "a-list",
          "object": "an-object"}


def wrong_types(kind: str, path: str = "", nth: int = 0) -> list[str]:
    """Every JSON type but the element's own (`object|list`: either is right) for a top-level element; one for an
    element inside another, taken in turn (`nth`) so that each type comes up (each case costs a run, and the
    elements inside go through the same checks as the top-level ones)."""
    own = kind.split("|")
    types = [t for t in LABELS if t not in own]
    if "." in path or "[" in path:
        return [types[nth % len(types)]]
    return types


def wrong_value(json_type: str, kind: str, original: Any) -> Any:
    """A value of `json_type` for an element of `kind` whose value is `original` (None when absent), made the way
    such mistakes are made: a list's first item on its own, an object wrapped in a list, a number as text."""
    if json_type == "string":
        return str(original) if kind == "number" and original is not None else "x"
    if json_type == "number":
        return 5
    if json_type == "boolean":
        return True
    if json_type == "null":
        return None
    if json_type == "list":
        return ["x"] if kind == "list" or original is None else [original]
    if kind == "list":
        return original[0] if original else {"x": 1}
    return {"value": original if original is not None else "x"}


# (path, kind): the elements each reader uses, in the first resource of its type in the example's bundle.json
OBSERVATION_USED = [
    ("id", "string"), ("status", "string"), ("identifier", "list"), ("identifier[0]", "object"),
    ("identifier[0].value", "string"), ("category", "list"), ("category[0].coding[0].code", "string"),
    ("code", "object"), ("code.coding", "list"), ("code.coding[1].code", "string"), ("subject", "object"),
    ("subject.reference", "string"), ("effectiveDateTime", "string"), ("_effectiveDateTime", "object"),
    ("performer", "list"), ("performer[0].reference", "string"), ("valueQuantity", "object"),
    ("valueQuantity.value", "number"), ("valueQuantity.unit", "string"), ("valueQuantity._value", "object"),
    ("valueQuantity._value.extension[0].valueString", "string"), ("interpretation", "list"),
    ("interpretation[0].text", "string"), ("specimen", "object"), ("specimen.reference", "string"),
    ("contained[0].type", "object"), ("referenceRange", "list"), ("referenceRange[0].low", "object"),
    ("referenceRange[0].high.value", "number"), ("referenceRange[0].low.unit", "string"), ("extension", "list"),
    ("extension[1].extension[0].valueString", "string"), ("dataAbsentReason", "object"),
]
OBSERVATION_KEPT = [("encounter", "object"), ("encounter.reference", "string")]  # converted without a visit
OBSERVATION_IGNORED = [("note", "list"), ("issued", "string"), ("method", "object"),
                       ("code.coding[1].userSelected", "boolean"), ("meta.source", "string")]

PATIENT_USED = [("id", "string"), ("identifier", "list"), ("identifier[0]", "object"),
                ("identifier[0].value", "string"), ("identifier[0].system", "string")]
PATIENT_KEPT = [("gender", "string"), ("birthDate", "string"), ("_birthDate", "object"),
                ("deceasedBoolean", "boolean")]  # the subject is kept without SEX / BRTHDTC / DTHFL
PATIENT_IGNORED = [("name", "list"), ("telecom", "list"), ("active", "boolean")]

RESEARCH_SUBJECT_USED = [("identifier", "list"), ("identifier[0].value", "string"), ("individual", "object"),
                         ("individual.reference", "string"), ("extension", "list"),
                         ("extension[0].extension[4].valueInteger", "number")]
RESEARCH_SUBJECT_KEPT = [("period", "object"), ("period.start", "string"), ("study.reference", "string"),
                         ("assignedArm", "string")]
RESEARCH_SUBJECT_IGNORED = [("status", "string"), ("consent", "object")]

ADVERSE_EVENT_USED = [("identifier", "object|list"), ("identifier.value", "string"), ("actuality", "string"),
                      ("subject", "object"), ("event", "object"), ("event.coding", "list"),
                      ("event.coding[0].extension[0].valueCode", "string"), ("event.text", "string"),
                      ("date", "string"), ("seriousness.coding", "list"), ("severity", "object"),
                      ("outcome", "object|list"), ("extension[0].valuePeriod", "object")]
ADVERSE_EVENT_KEPT = [("encounter", "object")]
ADVERSE_EVENT_IGNORED = [("recorder", "object"), ("detected", "string"), ("suspectEntity[0].instance", "object")]

MEDICATION_ADMINISTRATION_USED = [
    ("status", "string"), ("identifier[0].value", "string"), ("subject.reference", "string"),
    ("medicationReference", "object"), ("contained", "list"), ("contained[0].code.text", "string"),
    ("contained[0].batch.lotNumber", "string"), ("effectivePeriod", "object"), ("effectivePeriod.start", "string"),
    ("dosage", "object"), ("dosage.route.coding", "list"), ("dosage.dose.value", "number"),
    ("extension[1].extension[0].valueString", "string")]
MEDICATION_ADMINISTRATION_KEPT = [("context", "object")]
MEDICATION_ADMINISTRATION_IGNORED = [("performer", "list"), ("note", "list"), ("dosage.text", "string")]


def _change(rtype: str, path: str, json_type: str, kind: str) -> Callable[[Path], None]:
    """Put a value of `json_type` at `path` of the first resource of `rtype` in bundle.json."""
    def change(d: Path) -> None:
        def edit(entry: dict[str, Any]) -> None:
            res = entry["resource"]
            try:
                original = copy.deepcopy(get_path(res, path))
            except (KeyError, IndexError, TypeError):
                original = None
            set_path(res, path, wrong_value(json_type, kind, original))
        edit_bundle_entry(d, rtype, edit)
    return change


def _slug(path: str) -> str:
    return path.replace("[", ".").replace("]", "")


def _register_shapes() -> None:
    families = (
        ("Observation", OBSERVATION_USED, OBSERVATION_KEPT, OBSERVATION_IGNORED, {}),
        # a subject whose identity cannot be read: its ResearchSubject (and records) go with it
        ("Patient", PATIENT_USED, PATIENT_KEPT, PATIENT_IGNORED, {"ResearchSubject": (9, 8, 1)}),
        ("ResearchSubject", RESEARCH_SUBJECT_USED, RESEARCH_SUBJECT_KEPT, RESEARCH_SUBJECT_IGNORED,
         {"Patient": (9, 8, 1)}),
        ("AdverseEvent", ADVERSE_EVENT_USED, ADVERSE_EVENT_KEPT, ADVERSE_EVENT_IGNORED, {}),
        ("MedicationAdministration", MEDICATION_ADMINISTRATION_USED, MEDICATION_ADMINISTRATION_KEPT,
         MEDICATION_ADMINISTRATION_IGNORED, {}),
    )
    for rtype, used, kept, ignored, cascade in families:
        for nth, (path, kind) in enumerate(used):  # the record is rejected, naming the element
            for t in wrong_types(kind, path, nth):
                case(f"fhir-shape/{rtype.lower()}-{_slug(path)}-{LABELS[t]}", "fhir-bundle", "from-fhir", 1,
                     ("bundle.json", f"{rtype}.{path}"), {**one_rejected(rtype), **cascade}
                     )(_change(rtype, path, t, kind))
        for nth, (path, kind) in enumerate(kept):  # converted without the element, said as a note about the field
            for t in wrong_types(kind, path, nth):
                case(f"fhir-shape/{rtype.lower()}-{_slug(path)}-{LABELS[t]}", "fhir-bundle", "from-fhir", 1,
                     ("bundle.json", f"{rtype}.{path}", "converted without", "of the converted without a field"),
                     none_rejected(rtype))(_change(rtype, path, t, kind))
        for nth, (path, kind) in enumerate(ignored):  # not read: changes nothing
            for t in wrong_types(kind, "x.", nth):
                case(f"fhir-shape/{rtype.lower()}-ignored-{_slug(path)}-{LABELS[t]}", "fhir-bundle", "from-fhir", 0,
                     ("wrote",), none_rejected(rtype))(_change(rtype, path, t, kind))


_register_shapes()


# --- the same resource twice ------------------------------------------------------------------------------------

def _nth_entry(bundle: dict[str, Any], rtype: str, nth: int = 0) -> dict[str, Any]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == rtype][nth]


def _append_copy(rtype: str, edit: Callable[[dict[str, Any]], None] | None = None, times: int = 1,
                 meta: tuple[dict[str, Any], dict[str, Any]] | None = None) -> Callable[[Path], None]:
    """bundle.json gets `times` more copies of the first resource of `rtype` at its end (each changed by `edit`;
    `meta`: the first's and the copies' meta)."""
    def change(d: Path) -> None:
        def add(bundle: dict[str, Any]) -> None:
            entry = _nth_entry(bundle, rtype)
            if meta:
                entry["resource"]["meta"] = meta[0]
            for _ in range(times):
                again = copy.deepcopy(entry)
                if meta:
                    again["resource"]["meta"] = meta[1]
                if edit:
                    edit(again["resource"])
                bundle["entry"].append(again)
        edit_json(d / "bundle.json", add)
    return change


def _value(v: float) -> Callable[[dict[str, Any]], None]:
    def edit(res: dict[str, Any]) -> None:
        res["valueQuantity"]["value"] = v
        res["valueQuantity"].pop("_value", None)
    return edit


case("fhir-dup/observation-identical", "fhir-bundle", "from-fhir", 0, ("identical copies", "skipped 1"),
     none_rejected("Observation", 1))(_append_copy("Observation"))
case("fhir-dup/observation-identical-three-times", "fhir-bundle", "from-fhir", 0, ("identical copies", "skipped 2"),
     none_rejected("Observation", 2))(_append_copy("Observation", times=2))
case("fhir-dup/patient-identical", "fhir-bundle", "from-fhir", 0, ("identical copies",),
     {"Patient": (10, 9, 0), "ResearchSubject": (9, 9, 0), "Observation": (1264, 1264, 0)})(_append_copy("Patient"))
case("fhir-dup/observation-identical-but-meta", "fhir-bundle", "from-fhir", 0, ("identical copies",),
     none_rejected("Observation", 1))(_append_copy("Observation", meta=({"versionId": "1"}, {"versionId": "2"})))
case("fhir-dup/observation-different-no-version", "fhir-bundle", "from-fhir", 1,
     ("appears twice with different content (bundle.json entries 139 and 1463)", "none of them is converted"),
     {"Observation": (1265, 1263, 2)})(_append_copy("Observation", _value(999)))
case("fhir-dup/observation-different-three-times", "fhir-bundle", "from-fhir", 1,
     ("appears 3 times with different content (bundle.json entries 139, 1463 and 1464)",),
     {"Observation": (1266, 1263, 3)})(_append_copy("Observation", _value(999), times=2))
case("fhir-dup/observation-newer-version-later", "fhir-bundle", "from-fhir", 0,
     ("skipped: an older version", "meta.versionId 1", "bundle.json entry 1463) was converted"),
     none_rejected("Observation", 1))(_append_copy("Observation", _value(999),
                                                    meta=({"versionId": "1"}, {"versionId": "2"})))
case("fhir-dup/observation-newer-version-first", "fhir-bundle", "from-fhir", 0,
     ("skipped: an older version", "meta.lastUpdated 2020-01-01T00:00:00Z"),
     none_rejected("Observation", 1))(_append_copy("Observation", _value(999), meta=(
         {"lastUpdated": "2021-05-01T10:00:00+02:00"}, {"lastUpdated": "2020-01-01T00:00:00Z"})))
case("fhir-dup/observation-same-version-different-content", "fhir-bundle", "from-fhir", 1,
     ("appears twice with different content",),
     {"Observation": (1265, 1263, 2)})(_append_copy("Observation", _value(999),
                                                  meta=({"versionId": "3"}, {"versionId": "3"})))
case("fhir-dup/observation-version-not-a-number", "fhir-bundle", "from-fhir", 1,
     ("appears twice with different content",),
     {"Observation": (1265, 1263, 2)})(_append_copy("Observation", _value(999),
                                                  meta=({"versionId": "a"}, {"versionId": "b"})))
case("fhir-dup/patient-different-no-version", "fhir-bundle", "from-fhir", 1,
     ("appears twice with different content", "was rejected"),
     {"Patient": (10, 8, 2), "ResearchSubject": (9, 8, 1)})(_append_copy("Patient", lambda r: r.update(gender="male")))
case("fhir-dup/medicationadministration-different", "fhir-bundle", "from-fhir", 1,
     ("appears twice with different content",), {"MedicationAdministration": (19, 17, 2)})(
    _append_copy("MedicationAdministration", lambda r: r["dosage"]["dose"].update(value=2)))


def _ndjson_line(d: Path, rtype: str, n: int = 1) -> dict[str, Any]:
    return orjson.loads((d / f"{rtype}.ndjson").read_bytes().splitlines()[n - 1])


@case("fhir-dup/observation-identical-across-files", "fhir-ndjson", "from-fhir", 0,
      ("identical copies", "Observation.ndjson line 1"), none_rejected("Observation", 1))
def _(d: Path) -> None:
    (d / "one.json").write_bytes(orjson.dumps(_ndjson_line(d, "Observation")))


@case("fhir-dup/observation-different-across-files", "fhir-ndjson", "from-fhir", 1,
      ("appears twice with different content (Observation.ndjson line 1 and one.json line 1)",),
      {"Observation": (1265, 1263, 2)})
def _(d: Path) -> None:
    res = _ndjson_line(d, "Observation")
    _value(999)(res)
    (d / "one.json").write_bytes(orjson.dumps(res))


def _update_beside(old_meta: dict[str, Any] | None) -> Callable[[Path], None]:
    """update.json: a Bundle holding a changed copy of Observation.ndjson's first line, lastUpdated in 2030 (the
    line's own meta: `old_meta`)."""
    def change(d: Path) -> None:
        res = _ndjson_line(d, "Observation")
        if old_meta is not None:
            _edit_line(d, "Observation", 1, lambda r: r.update(meta=old_meta))
        _value(999)(res)
        res["meta"] = {"lastUpdated": "2030-01-01T00:00:00Z"}
        (d / "update.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                                       "entry": [{"resource": res}]}))
    return change


case("fhir-dup/observation-newer-in-a-bundle-beside-ndjson", "fhir-ndjson", "from-fhir", 0,
     ("skipped: an older version", "Observation.ndjson line 1", "update.json entry 0) was converted"),
     none_rejected("Observation", 1))(_update_beside({"lastUpdated": "2025-06-01T12:00:00+08:00"}))
case("fhir-dup/observation-one-copy-without-version", "fhir-ndjson", "from-fhir", 1,
     ("appears twice with different content (Observation.ndjson line 1 and update.json entry 0)",),
     {"Observation": (1265, 1263, 2)})(_update_beside(None))


# --- subjects given by identifier, references to nothing --------------------------------------------------------

USUBJID_SYSTEM = "https://msc-interop.github.io/fhir/sid/usubjid"


def _subject(value: Any) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(subject=value))
    return change


case("fhir-subject/observation-by-identifier", "fhir-bundle", "from-fhir", 0, ("wrote",),
     none_rejected("Observation"))(_subject({"identifier": {"system": USUBJID_SYSTEM, "value": "MSC-SLE-2009-01-01"}}))
case("fhir-subject/observation-by-identifier-value-only", "fhir-bundle", "from-fhir", 0, ("wrote",),
     none_rejected("Observation"))(_subject({"identifier": {"value": "MSC-SLE-2009-01-02"}}))
case("fhir-subject/observation-by-unknown-identifier", "fhir-bundle", "from-fhir", 1,
     ("matches no identifier of a Patient", "MSC-SLE-2009-99"), one_rejected("Observation"))(
    _subject({"identifier": {"system": USUBJID_SYSTEM, "value": "MSC-SLE-2009-99"}}))
case("fhir-subject/observation-by-display-only", "fhir-bundle", "from-fhir", 1, ("no subject",),
     one_rejected("Observation"))(_subject({"display": "Jane"}))
case("fhir-subject/observation-to-a-practitioner", "fhir-bundle", "from-fhir", 1, ("not in the Bundle",),
     one_rejected("Observation"))(_subject({"reference": "Practitioner/p1"}))


@case("fhir-subject/adverseevent-by-identifier", "fhir-bundle", "from-fhir", 0, ("wrote",),
      none_rejected("AdverseEvent"))
def _(d: Path) -> None:
    edit_bundle_entry(d, "AdverseEvent", lambda e: e["resource"].update(
        subject={"identifier": {"system": USUBJID_SYSTEM, "value": "MSC-SLE-2009-01-04"}}))


case("fhir-ref/observation-encounter-dangling", "fhir-bundle", "from-fhir", 1,
     ("converted without a visit", "Encounter/nope", "1 of the converted without a field"),
     none_rejected("Observation"))(
    lambda d: edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(encounter={"reference":
                                                                                            "Encounter/nope"})))
case("fhir-ref/adverseevent-encounter-dangling", "fhir-bundle", "from-fhir", 1,
     ("converted without a visit", "1 of the converted without a field"), none_rejected("AdverseEvent"))(
    lambda d: edit_bundle_entry(d, "AdverseEvent", lambda e: e["resource"].update(encounter={"reference":
                                                                                             "Encounter/nope"})))
case("fhir-ref/medicationadministration-context-dangling", "fhir-bundle", "from-fhir", 1,
     ("converted without a visit",), none_rejected("MedicationAdministration"))(
    lambda d: edit_bundle_entry(d, "MedicationAdministration", lambda e: e["resource"].update(
        context={"reference": "Encounter/nope"})))


@case("fhir-ref/observation-encounter-dangling-ndjson", "fhir-ndjson", "from-fhir", 1,
      ("Observation.ndjson line 3", "converted without a visit"), none_rejected("Observation"))
def _(d: Path) -> None:
    _edit_line(d, "Observation", 3, lambda r: r.update(encounter={"reference": "Encounter/nope"}))


@case("fhir-ref/encounter-rejected", "fhir-bundle", "from-fhir", 1,
      ("converted without a visit: encounter", "was rejected"), {"Encounter": (63, 62, 1)})
def _(d: Path) -> None:
    edit_bundle_entry(d, "Encounter", lambda e: e["resource"].update(type="BASELINE"))


# --- NDJSON lines, whole files ------------------------------------------------------------------------------------

def _edit_line(d: Path, rtype: str, n: int, edit: Callable[[dict[str, Any]], Any] | bytes) -> None:
    path = d / f"{rtype}.ndjson"
    lines = path.read_bytes().splitlines(keepends=True)
    if isinstance(edit, bytes):
        lines[n - 1] = edit
    else:
        res = orjson.loads(lines[n - 1])
        edit(res)
        lines[n - 1] = orjson.dumps(res) + b"\n"
    path.write_bytes(b"".join(lines))


case("fhir-ndjson/observation-line-not-json", "fhir-ndjson", "from-fhir", 1,
     ("Observation.ndjson line 10", "line 10 is not valid JSON at column"), one_rejected("Observation"))(
    lambda d: _edit_line(d, "Observation", 10, b'{"resourceType": "Observation", "id": \n'))
case("fhir-ndjson/observation-line-truncated-mid-value", "fhir-ndjson", "from-fhir", 1,
     ("Observation.ndjson line 1264",), one_rejected("Observation"))(
    lambda d: (d / "Observation.ndjson").write_bytes((d / "Observation.ndjson").read_bytes()[:-40]))
case("fhir-ndjson/observation-line-an-array", "fhir-ndjson", "from-fhir", 1,
     ("Observation.ndjson line 7", "must be one JSON object"), one_rejected("Observation"))(
    lambda d: _edit_line(d, "Observation", 7, b"[1, 2]\n"))
case("fhir-ndjson/observation-line-subject-a-string", "fhir-ndjson", "from-fhir", 1,
     ("Observation.ndjson line 5", "Observation.subject"), one_rejected("Observation"))(
    lambda d: _edit_line(d, "Observation", 5, lambda r: r.update(subject="Patient/x")))
case("fhir-ndjson/patient-line-not-json", "fhir-ndjson", "from-fhir", 1, ("Patient.ndjson line 2",),
     one_rejected("Patient"))(lambda d: _edit_line(d, "Patient", 2, b"{oops\n"))
case("fhir-ndjson/observation-nan", "fhir-ndjson", "from-fhir", 1, ("NaN and Infinity are not JSON numbers",),
     one_rejected("Observation"))(
    lambda d: _edit_line(d, "Observation", 4, (d / "Observation.ndjson").read_bytes().splitlines()[3].replace(
        b'"value":', b'"value":NaN,"x":', 1) + b"\n"))


def _truncate(name: str, keep: int) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        (d / name).write_bytes((d / name).read_bytes()[:keep])
    return change


case("fhir-file/bundle-truncated-alone", "fhir-bundle", "from-fhir", 2,
     ("no FHIR resource could be read", "bundle.json", "not valid JSON at line"))(_truncate("bundle.json", 50_000))
case("fhir-file/bundle-deeply-nested-alone", "fhir-bundle", "from-fhir", 2, ("nested deeper than 1024 levels",))(
    lambda d: (d / "bundle.json").write_bytes(b"[" * 10_000 + b"]" * 10_000))
case("fhir-file/bundle-nan-alone", "fhir-bundle", "from-fhir", 2, ("NaN and Infinity are not JSON numbers",))(
    lambda d: (d / "bundle.json").write_bytes((d / "bundle.json").read_bytes().replace(b'"value":0.6', b'"value":NaN',
                                                                                      1)))
case("fhir-file/bundle-a-list-alone", "fhir-bundle", "from-fhir", 2, ("expected a FHIR resource",))(
    lambda d: (d / "bundle.json").write_bytes(b"[]"))
case("fhir-file/bundle-entry-an-object", "fhir-bundle", "from-fhir", 2, ("Bundle.entry is an object",))(
    lambda d: edit_json(d / "bundle.json", lambda b: b.update(entry=b["entry"][0])))
case("fhir-file/every-ndjson-line-bad", "fhir-ndjson", "from-fhir", 2, ("no FHIR resource could be read",
                                                                        "Encounter.ndjson line 1", "and 23 more"))(
    lambda d: [p.write_bytes(b"{\n" * 3) for p in d.glob("*.ndjson")])


@case("fhir-file/truncated-bundle-beside-ndjson", "fhir-ndjson", "from-fhir", 1,
      ("extra.json: the whole file could not be read", "an unknown number of resources, about"),
      {"(unreadable)": (1, 0, 1), "Observation": (1264, 1264, 0)})
def _(d: Path) -> None:
    whole = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Condition", "id": f"c{i}"}} for i in range(20)]})
    (d / "extra.json").write_bytes(whole[:300])


@case("fhir-file/nan-file-beside-ndjson", "fhir-ndjson", "from-fhir", 1, ("nan.json", "NaN"),
      {"(unreadable)": (1, 0, 1), "Observation": (1264, 1264, 0)})
def _(d: Path) -> None:
    (d / "nan.json").write_bytes(b'{"resourceType": "Observation", "id": "n", "valueQuantity": {"value": NaN}}')


@case("fhir-file/deep-file-beside-ndjson", "fhir-ndjson", "from-fhir", 1, ("deep.json", "nested deeper"),
      {"(unreadable)": (1, 0, 1), "Observation": (1264, 1264, 0)})
def _(d: Path) -> None:
    (d / "deep.json").write_bytes(b'{"a":' * 2000 + b"1" + b"}" * 2000)


# --- Observations without their test code, or with a unit no table knows ------------------------------------------

CDISC_LBTESTCD = "https://msc-interop.github.io/fhir/CodeSystem/cdisc-lbtestcd"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"


def _codings(keep: Callable[[dict[str, Any]], bool], loinc: str | None = None) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        def edit(e: dict[str, Any]) -> None:
            code = e["resource"]["code"]
            code["coding"] = [c for c in code["coding"] if keep(c)]
            for c in code["coding"]:
                if loinc and c["system"] == "http://loinc.org":
                    c["code"] = loinc
        edit_bundle_entry(d, "Observation", edit)
    return change


case("fhir-code/own-observation-loinc-only", "fhir-bundle", "from-fhir", 0, ("wrote",),
     none_rejected("Observation"))(_codings(lambda c: c["system"] == "http://loinc.org"))
case("fhir-code/own-observation-ncit-only", "fhir-bundle", "from-fhir", 0, ("wrote",),
     none_rejected("Observation"))(_codings(lambda c: c["system"] == NCIT))
case("fhir-code/own-observation-unknown-loinc-only", "fhir-bundle", "from-fhir", 1,
     ("no CDISC test code", "LOINC 99999-9"), one_rejected("Observation"))(
    _codings(lambda c: c["system"] == "http://loinc.org", loinc="99999-9"))
case("fhir-code/own-observation-text-only", "fhir-bundle", "from-fhir", 1, ("no CDISC test code", "no coding"),
     one_rejected("Observation"))(_codings(lambda c: False))
case("fhir-code/own-observation-empty-cdisc-code", "fhir-bundle", "from-fhir", 0, ("wrote",),
     none_rejected("Observation"))(
    lambda d: edit_bundle_entry(d, "Observation", lambda e: e["resource"]["code"]["coding"][1].update(code="")))
case("fhir-code/observation-without-code", "fhir-bundle", "from-fhir", 1, ("Observation.code", "no code"),
     one_rejected("Observation"))(lambda d: edit_bundle_entry(d, "Observation", lambda e: e["resource"].pop("code")))


def _code(value: Any) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(code=value))
    return change


for _label, _value_of_code in (("a-string", "WBC"), ("null", None), ("an-integer", 1751)):
    case(f"fhir-code/observation-code-{_label}", "fhir-bundle", "from-fhir", 1, ("Observation.code",),
         one_rejected("Observation"))(_code(_value_of_code))


def _unit(unit: str, drop_code: bool = False, foreign: bool = False) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        def edit(e: dict[str, Any]) -> None:
            res = e["resource"]
            res["valueQuantity"]["unit"] = unit
            if drop_code:
                res["valueQuantity"].pop("code")
                res["valueQuantity"].pop("system")
            if foreign:  # as FHIR written by others: no sdtm-seq identifier, no CDISC coding
                res.pop("identifier")
                res["code"]["coding"] = [c for c in res["code"]["coding"] if c["system"] != CDISC_LBTESTCD]
        edit_bundle_entry(d, "Observation", edit)
    return change


case("fhir-unit/own-observation-furlongs", "fhir-bundle", "from-fhir", 1, ("unknown unit 'furlongs'",),
     one_rejected("Observation"))(_unit("furlongs"))
case("fhir-unit/own-observation-unit-of-another-code", "fhir-bundle", "from-fhir", 1, ("unknown unit 'g/L'",),
     one_rejected("Observation"))(_unit("g/L"))
case("fhir-unit/foreign-observation-furlongs", "fhir-bundle", "from-fhir", 1, ("unknown unit 'furlongs'",),
     one_rejected("Observation"))(_unit("furlongs", drop_code=True, foreign=True))
case("fhir-unit/own-observation-unknown-ucum-code", "fhir-bundle", "from-fhir", 1, ("UCUM code '[furlong]'",),
     one_rejected("Observation"))(
    lambda d: edit_bundle_entry(d, "Observation", lambda e: e["resource"]["valueQuantity"].update(code="[furlong]")))
