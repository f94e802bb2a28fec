"""The bad-input corpus: each case copies one good input (sources.copy_of), breaks one thing, runs one command,
and says what a data manager must see: the exit status (0 all converted, 1 records rejected, 2 input unusable,
never a traceback), the words the message must hold (the file and where in it), and for mostly-good input the
exact reconciliation of the form it touched (read = converted + rejected).

Cases are made by code from the fixtures, grouped by reader; `CASES` is the whole corpus.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml


@dataclass(frozen=True)
class Case:
    id: str
    source: str  # sources.copy_of kind: records, sdtm-json, sdtm-ndjson, sdtm-csv, sdtm-xpt, fhir-bundle, fhir-ndjson
    command: str  # to-sdtm, to-fhir, from-fhir, validate, summary
    change: Callable[[Path], None]  # breaks the copy in place
    exit_code: int
    mentions: tuple[str, ...]  # each must appear in what the command prints (stdout + stderr)
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # form -> (read, converted, rejected)


CASES: list[Case] = []


def case(id: str, source: str, command: str, exit_code: int, mentions: tuple[str, ...],
         counts: dict[str, tuple[int, int, int]] | None = None) -> Callable[[Callable[[Path], None]], None]:
    def register(change: Callable[[Path], None]) -> None:
        CASES.append(Case(id, source, command, change, exit_code, mentions, counts or {}))

    return register


# --- editing helpers ------------------------------------------------------------------------------------------

def edit_json(path: Path, fn: Callable[[Any], Any]) -> None:
    doc = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps(fn(doc) or doc))


def edit_bundle_entry(folder: Path, rtype: str, fn: Callable[[dict[str, Any]], Any], nth: int = 0) -> None:
    """Change the `nth` entry of a resource type in folder/bundle.json (fn edits the entry in place)."""
    def change(bundle: dict[str, Any]) -> None:
        entries = [e for e in bundle["entry"] if e.get("resource", {}).get("resourceType") == rtype]
        fn(entries[nth])

    edit_json(folder / "bundle.json", change)


def edit_csv_rows(path: Path, fn: Callable[[list[dict[str, str]]], list[dict[str, str]] | None]) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        names = list(reader.fieldnames or [])
        rows = list(reader)
    rows = fn(rows) or rows
    names = [n for n in names if any(n in r for r in rows)] if rows else names
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=names, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def edit_yaml(path: Path, fn: Callable[[Any], Any]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(fn(doc) or doc, sort_keys=False), encoding="utf-8")


def replace_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- study records (CSV forms, study.yaml) ------------------------------------------------------------------------

@case("records/labs.csv-is-a-folder", "records", "to-sdtm", 2, ("labs.csv", "folder"))
def _(d: Path) -> None:
    (d / "labs.csv").unlink()
    (d / "labs.csv").mkdir()


@case("records/study.yaml-visitnum-nan", "records", "to-sdtm", 2, ("study.yaml", "visitnum"))
def _(d: Path) -> None:
    replace_text(d / "study.yaml", "visitnum: 1\n", "visitnum: .nan\n")


@case("records/study.yaml-visitnum-inf", "records", "to-sdtm", 2, ("study.yaml", "visits/0/visitnum", "finite"))
def _(d: Path) -> None:
    replace_text(d / "study.yaml", "visitnum: 1\n", "visitnum: .inf\n")


# --- SDTM Dataset-JSON --------------------------------------------------------------------------------------------

@case("sdtm-json/lb-cell-is-an-object", "sdtm-json", "to-sdtm", 2, ("lb.json", "row 3", "LBORRES"))
def _(d: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        col = [c["name"] for c in doc["columns"]].index("LBORRES")
        doc["rows"][2][col] = {"value": 5}
    edit_json(d / "lb.json", change)


@case("sdtm-json/lb-columns-not-a-list", "sdtm-json", "to-sdtm", 2, ("lb.json", "columns"))
def _(d: Path) -> None:
    edit_json(d / "lb.json", lambda doc: doc.update(columns="USUBJID"))


@case("sdtm-json/lb-column-without-name", "sdtm-json", "to-sdtm", 2, ("lb.json", "column 4", "name"))
def _(d: Path) -> None:
    def change(doc: dict[str, Any]) -> None:  # returns None: edit_json writes a returned value instead of doc
        doc["columns"][3].pop("name")
    edit_json(d / "lb.json", change)


@case("sdtm-json/lb-without-usubjid", "sdtm-json", "to-fhir", 2, ("LB", "USUBJID"))
def _(d: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        col = [c["name"] for c in doc["columns"]].index("USUBJID")
        doc["columns"].pop(col)
        for row in doc["rows"]:
            row.pop(col)
    edit_json(d / "lb.json", change)


@case("sdtm-csv/dm-without-usubjid", "sdtm-csv", "to-fhir", 2, ("DM", "USUBJID"))
def _(d: Path) -> None:
    edit_csv_rows(d / "dm.csv", lambda rows: [{k: v for k, v in r.items() if k != "USUBJID"} for r in rows])


# --- SDTM Dataset-JSON, NDJSON form (metadata on line 1, one row array per further line) -----------------------

def edit_ndjson(path: Path, meta: Callable[[dict[str, Any]], None] | None = None,
                rows: Callable[[list[Any]], None] | None = None) -> None:
    """Change an NDJSON dataset in place: `meta` edits the line-1 object, `rows` the list of row arrays."""
    lines = [orjson.loads(ln) for ln in path.read_bytes().splitlines() if ln.strip()]
    head, body = lines[0], lines[1:]
    if meta:
        meta(head)
    if rows:
        rows(body)
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in [head, *body]) + b"\n")


def _lb_col(head: dict[str, Any], name: str) -> int:
    return [c["name"] for c in head["columns"]].index(name)


@case("sdtm-ndjson/lb-cell-is-an-object", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "row 3", "line 4", "LBORRES"))
def _(d: Path) -> None:
    col = _lb_col(orjson.loads((d / "lb.ndjson").read_bytes().split(b"\n", 1)[0]), "LBORRES")
    edit_ndjson(d / "lb.ndjson", rows=lambda body: body[2].__setitem__(col, {"value": 5}))


@case("sdtm-ndjson/lb-cell-is-an-array", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "row 5", "LBSTRESN"))
def _(d: Path) -> None:
    col = _lb_col(orjson.loads((d / "lb.ndjson").read_bytes().split(b"\n", 1)[0]), "LBSTRESN")
    edit_ndjson(d / "lb.ndjson", rows=lambda body: body[4].__setitem__(col, [5]))


@case("sdtm-ndjson/lb-row-is-an-object", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "row 2", "line 3"))
def _(d: Path) -> None:
    edit_ndjson(d / "lb.ndjson", rows=lambda body: body.__setitem__(1, {"USUBJID": "x"}))


@case("sdtm-ndjson/lb-columns-not-a-list", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "line 1", "columns"))
def _(d: Path) -> None:
    edit_ndjson(d / "lb.ndjson", meta=lambda head: head.update(columns="USUBJID"))


@case("sdtm-ndjson/lb-column-not-an-object", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "column 2", "object"))
def _(d: Path) -> None:
    edit_ndjson(d / "lb.ndjson", meta=lambda head: head["columns"].__setitem__(1, "DOMAIN"))


@case("sdtm-ndjson/lb-column-without-name", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "column 4", "name"))
def _(d: Path) -> None:
    edit_ndjson(d / "lb.ndjson", meta=lambda head: head["columns"][3].pop("name"))


@case("sdtm-ndjson/lb-column-name-is-a-number", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson", "column 4", "name"))
def _(d: Path) -> None:
    edit_ndjson(d / "lb.ndjson", meta=lambda head: head["columns"][3].update(name=4))


@case("sdtm-ndjson/lb-column-datatype-unknown", "sdtm-ndjson", "to-sdtm", 2,
      ("lb.ndjson", "column 5", "LBTESTCD", "dataType"))
def _(d: Path) -> None:
    edit_ndjson(d / "lb.ndjson", meta=lambda head: head["columns"][4].update(dataType="text"))


@case("sdtm-ndjson/lb-without-usubjid", "sdtm-ndjson", "to-fhir", 2, ("lb.ndjson", "LB", "USUBJID"))
def _(d: Path) -> None:
    col = _lb_col(orjson.loads((d / "lb.ndjson").read_bytes().split(b"\n", 1)[0]), "USUBJID")
    edit_ndjson(d / "lb.ndjson", meta=lambda head: head["columns"].pop(col),
                rows=lambda body: [row.pop(col) for row in body])


# --- FHIR --------------------------------------------------------------------------------------------------------

OBS_ONE_REJECTED = {"Observation": (494, 493, 1)}


@case("fhir/entry-request-without-resource", "fhir-bundle", "from-fhir", 1, ("bundle.json", "entry"))
def _(d: Path) -> None:
    edit_json(d / "bundle.json", lambda b: b["entry"].append({"request": {"method": "PUT", "url": "Patient/x"}}))


@case("fhir/observation-subject-is-a-string", "fhir-bundle", "from-fhir", 1, ("bundle.json", "subject"),
      OBS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(subject="Patient/x"))


@case("fhir/observation-valuequantity-is-a-list", "fhir-bundle", "from-fhir", 1, ("bundle.json", "valueQuantity"),
      OBS_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(valueQuantity=[1]))


def _effective(value: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(effectiveDateTime=value))
    return change


for _id, _value in (("offset-plus-25h", "2009-02-03T08:38:00+25:00"), ("february-30", "2009-02-30T08:38:00+08:00"),
                    ("year-1-with-offset", "0001-01-01T00:00:00+08:00")):
    case(f"fhir/observation-effective-{_id}", "fhir-bundle", "from-fhir", 1, ("bundle.json", "effective"),
         OBS_ONE_REJECTED)(_effective(_value))


AE_ONE_REJECTED = {"AdverseEvent": (1, 0, 1)}
EX_ONE_REJECTED = {"MedicationAdministration": (18, 17, 1)}


@case("fhir/adverseevent-subject-is-a-string", "fhir-bundle", "from-fhir", 1, ("bundle.json", "subject"),
      AE_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "AdverseEvent", lambda e: e["resource"].update(subject="Patient/x"))


@case("fhir/adverseevent-event-is-a-list", "fhir-bundle", "from-fhir", 1, ("bundle.json", "event"),
      AE_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "AdverseEvent", lambda e: e["resource"].update(event=[e["resource"]["event"]]))


@case("fhir/adverseevent-date-february-30", "fhir-bundle", "from-fhir", 1, ("bundle.json", "AdverseEvent.date"),
      AE_ONE_REJECTED)
def _(d: Path) -> None:
    def change(e: dict[str, Any]) -> None:
        e["resource"].pop("_date", None)
        e["resource"]["date"] = "2014-02-30"
    edit_bundle_entry(d, "AdverseEvent", change)


@case("fhir/medicationadministration-subject-is-a-string", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "subject"), EX_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationAdministration", lambda e: e["resource"].update(subject="Patient/x"))


@case("fhir/medicationadministration-dosage-is-a-list", "fhir-bundle", "from-fhir", 1, ("bundle.json", "dosage"),
      EX_ONE_REJECTED)
def _(d: Path) -> None:
    edit_bundle_entry(d, "MedicationAdministration", lambda e: e["resource"].update(dosage=[e["resource"]["dosage"]]))


@case("fhir/medicationadministration-start-offset-plus-25h", "fhir-bundle", "from-fhir", 1,
      ("bundle.json", "effectivePeriod.start"), EX_ONE_REJECTED)
def _(d: Path) -> None:
    def change(e: dict[str, Any]) -> None:
        period = e["resource"]["effectivePeriod"]
        period.pop("_start", None)
        period["start"] = "2014-01-02T08:00:00+25:00"
    edit_bundle_entry(d, "MedicationAdministration", change)


@case("fhir/patient-birthdate-february-30", "fhir-bundle", "from-fhir", 1, ("bundle.json", "Patient.birthDate"),
      {"Patient": (9, 9, 0), "ResearchSubject": (9, 9, 0)})
def _(d: Path) -> None:
    def change(e: dict[str, Any]) -> None:  # the subject is kept, without its birth date
        e["resource"].pop("_birthDate", None)
        e["resource"]["birthDate"] = "1950-02-30"
    edit_bundle_entry(d, "Patient", change)


def _with_bom(name: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        path = d / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return change


# a UTF-8 byte-order mark is accepted everywhere (it rejected a whole bundle.json while CSV BOMs were accepted)
case("fhir/bundle-with-utf8-bom", "fhir-bundle", "from-fhir", 0, ("Observation: read 494 = converted 494",),
     {"Observation": (494, 494, 0)})(_with_bom("bundle.json"))
case("fhir/ndjson-with-utf8-bom", "fhir-ndjson", "from-fhir", 0, ("Observation: read 494 = converted 494",),
     {"Observation": (494, 494, 0)})(_with_bom("Observation.ndjson"))
case("sdtm-json/lb-with-utf8-bom", "sdtm-json", "to-sdtm", 0, ("lb.csv",))(_with_bom("lb.json"))
case("records/labs.csv-with-utf8-bom", "records", "to-sdtm", 0, ("labs: read 494 = converted 494",))(
    _with_bom("labs.csv"))


@case("records/labs.csv-result-column-twice", "records", "to-sdtm", 2,
      ("labs.csv", "column 'result' appears more than once", "columns 5 and 10"))
def _(d: Path) -> None:
    path = d / "labs.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[4] == "result"
    path.write_text("\n".join([lines[0] + ",Result"] + [line + ",1" for line in lines[1:]]) + "\n",
                    encoding="utf-8")


for _id, _zone in (("empty", "''"), ("not-iana", "UTC+8"), ("unknown", "Mars/Olympus")):
    case(f"records/study.yaml-timezone-{_id}", "records", "to-sdtm", 2, ("study.yaml", "timezone", "IANA"))(
        lambda d, z=_zone: replace_text(d / "study.yaml", "timezone: Asia/Shanghai\n", f"timezone: {z}\n"))


@case("records/study.yaml-alias-names-two-visits", "records", "to-sdtm", 2,
      ("study.yaml", "'Day 0' names visit 2 and visit 3"))
def _(d: Path) -> None:
    replace_text(d / "study.yaml", "  - Infusion 2\n", "  - Infusion 2\n  - Day 0\n")


def _quantity_value(value: Any) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        edit_bundle_entry(d, "Observation", lambda e: e["resource"]["valueQuantity"].update(value=value))
    return change


for _id, _value in (("text", "abc"), ("boolean", True)):
    case(f"fhir/observation-value-is-{_id}", "fhir-bundle", "from-fhir", 1, ("bundle.json", "valueQuantity"),
         OBS_ONE_REJECTED)(_quantity_value(_value))

case("fhir/observation-effective-is-a-number", "fhir-bundle", "from-fhir", 1, ("bundle.json", "effective"),
     OBS_ONE_REJECTED)(_effective(20090203))  # type: ignore[arg-type]
