"""Bad study-record values and CSV text, and SDTM values on the way to FHIR (issue 17).

Hand-written cases: quotes that run rows together, row numbers after blank lines and multi-line values, dates
that are impossible or implausible, a birth after consent, and SDTM -> FHIR records whose date, subject or unit
FHIR cannot take. Then a generated family: each records form x each column x bad values (blank, a control
character, too long, text in a number column, impossible / partial / garbage / implausible dates, an unknown
coded value), the expected outcome derived from the form definition (mappings/schema/records.schema.json:
required, pattern, enum, maxLength, date $refs) plus what the builders map (the CODED table below), never from a
run of the converter. "row" in a message is the line of the CSV file the record starts on (header = 1).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from .registry import case, edit_csv_rows, edit_json, edit_yaml, replace_text
from .sources import REPO

EXAMPLE = REPO / "fixtures" / "example_study"
SCHEMA = json.loads((REPO / "mappings" / "schema" / "records.schema.json").read_text(encoding="utf-8"))
FORMS = SCHEMA["x-forms"]


def _rows(name: str) -> list[dict[str, str]]:
    with open(EXAMPLE / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


def _write_lines(path: Path, lines: list[str], end: str = "\n") -> None:
    path.write_bytes(end.join(lines).encode("utf-8"))


N = {form: len(_rows(spec["file"])) for form, spec in FORMS.items()}  # data rows of each form in the fixture
LABS = _rows("labs.csv")


def _bad_result_at(lines: list[str], index: int) -> None:
    cells = lines[index].split(",")
    cells[4] = "abc"
    lines[index] = ",".join(cells)


# --- 1. quotes: a value that spans lines ------------------------------------------------------------------------


def _stray_quotes(d: Path) -> None:
    """A '"' opens lab_name on line 101 and another closes it on line 106 (what a bad export does)."""
    lines = _lines(d / "labs.csv")
    lines[100] = lines[100].replace(",Nanjing", ',"Nanjing')
    lines[105] = lines[105] + '"'
    _write_lines(d / "labs.csv", lines)


case("records/labs.csv-stray-quotes-run-six-rows-together", "records", "to-sdtm", 1,
     ("labs.csv row 101, lab_name=", "starts on this line and ends on line 106", "labs.csv row 106",
      "labs: read 494 = converted 488 + rejected 6"), {"labs": (494, 488, 6)})(_stray_quotes)


@case("records/labs.csv-quote-never-closed-names-line-101", "records", "to-sdtm", 2,
      ("labs.csv line 101", "never closed", "lines 101-495"))
def _(d: Path) -> None:
    lines = _lines(d / "labs.csv")
    lines[100] = lines[100].replace(",Nanjing", ',"Nanjing')
    _write_lines(d / "labs.csv", lines)


@case("records/labs.csv-quoted-line-break-then-bad-row", "records", "to-sdtm", 1,
      ("labs.csv row 20, lab_name=", "lines 20-21", "labs.csv row 21", "labs.csv row 61, result="),
      {"labs": (495, 492, 3)})
def _(d: Path) -> None:
    """A line break inside a properly quoted value (Excel Alt+Enter): its two lines are rejected, and the rows
    after it keep their line numbers (the bad result on line 61 is reported at 61, not 60)."""
    lines = _lines(d / "labs.csv")
    _bad_result_at(lines, 59)  # file line 61 once line 20 became two
    lines[19] = lines[19].replace(",Nanjing Drum Tower", ',"Nanjing\nDrum Tower') + '"'
    _write_lines(d / "labs.csv", lines)


@case("records/labs.csv-quote-inside-a-value-is-text", "records", "to-sdtm", 0,
      ("labs: read 494 = converted 494 + rejected 0",), {"labs": (494, 494, 0)})
def _(d: Path) -> None:
    """A '"' inside an unquoted value is a character of the value, not the start of a quoted value."""
    lines = _lines(d / "labs.csv")
    lines[100] = lines[100].replace(",Nanjing Drum", ',Nanjing "Drum"')
    _write_lines(d / "labs.csv", lines)


@case("records/labs.csv-first-row-has-a-value-too-many", "records", "to-sdtm", 2,
      ("labs.csv line 2", "10 values but the header has 9 columns"))
def _(d: Path) -> None:
    lines = _lines(d / "labs.csv")
    lines[1] = lines[1].replace("Nanjing Drum", "Nanjing, Drum")
    _write_lines(d / "labs.csv", lines)


@case("records/labs.csv-value-too-many-after-a-multi-line-value", "records", "to-sdtm", 2,
      ("labs.csv line 41", "10 values but the header has 9 columns"))
def _(d: Path) -> None:
    lines = _lines(d / "labs.csv")
    lines[19] = lines[19].replace(",Nanjing Drum Tower", ',"Nanjing\nDrum Tower') + '"'
    lines[39] = lines[39].replace("Nanjing Drum", "Nanjing, Drum")  # file line 41 once line 20 became two
    _write_lines(d / "labs.csv", lines)


# --- 2. row numbers: blank lines, whitespace lines, CRLF ------------------------------------------------------

@case("records/labs.csv-blank-line-then-bad-row", "records", "to-sdtm", 1,
      ("labs.csv row 51, result='abc'",), {"labs": (494, 493, 1)})
def _(d: Path) -> None:
    lines = _lines(d / "labs.csv")
    lines.insert(10, "")
    _bad_result_at(lines, 50)  # file line 51
    _write_lines(d / "labs.csv", lines)


@case("records/labs.csv-crlf-and-whitespace-lines-then-bad-row", "records", "to-sdtm", 1,
      ("labs.csv row 53, result='abc'",), {"labs": (494, 493, 1)})
def _(d: Path) -> None:
    lines = _lines(d / "labs.csv")
    lines.insert(5, "   ")
    lines.insert(30, "\t")
    _bad_result_at(lines, 52)  # file line 53
    _write_lines(d / "labs.csv", lines, end="\r\n")


@case("records/labs.csv-blank-lines-before-the-header", "records", "to-sdtm", 1,
      ("labs.csv row 9, result='abc'",), {"labs": (494, 493, 1)})
def _(d: Path) -> None:
    lines = _lines(d / "labs.csv")
    _bad_result_at(lines, 6)  # file line 7, line 9 once two blank lines lead
    _write_lines(d / "labs.csv", ["", "", *lines])


# --- 3. dates: impossible, implausible, study.yaml plausible_dates; birth after consent -------------------------

@case("records/labs.csv-years-0001-and-9999", "records", "to-sdtm", 1,
      ("labs.csv row 6, collection_datetime='0001-01-01T08:00'", "labs.csv row 7, collection_datetime='9999-12-31'",
       "outside the plausible dates"), {"labs": (494, 492, 2)})
def _(d: Path) -> None:
    def change(rows: list[dict[str, str]]) -> None:
        rows[4]["collection_datetime"] = "0001-01-01T08:00"
        rows[5]["collection_datetime"] = "9999-12-31"
    edit_csv_rows(d / "labs.csv", change)


_LATE = sum(1 for r in LABS if r["collection_datetime"][:10] > "2014-12-31")  # the year-6 visits of 2015


@case("records/study.yaml-plausible-dates-latest-2014", "records", "to-sdtm", 1,
      ("1920-01-01 to 2014-12-31 (plausible_dates in study.yaml)",),
      {"labs": (N["labs"], N["labs"] - _LATE, _LATE), "subjects": (9, 9, 0)})
def _(d: Path) -> None:
    edit_yaml(d / "study.yaml", lambda doc: doc.update(plausible_dates={"earliest": "1920-01-01",
                                                                        "latest": "2014-12-31"}))
    edit_csv_rows(d / "subjects.csv", lambda rows: [{**r, "end_of_participation_date": ""} for r in rows])


@case("records/study.yaml-plausible-dates-unquoted-yaml-dates", "records", "to-sdtm", 0,
      ("labs: read 494 = converted 494",), {"labs": (494, 494, 0)})
def _(d: Path) -> None:
    with open(d / "study.yaml", "a", encoding="utf-8") as fh:
        fh.write("plausible_dates:\n  earliest: 1920-01-01\n  latest: 2030-12-31\n")


@case("records/study.yaml-plausible-dates-earliest-after-latest", "records", "to-sdtm", 2,
      ("study.yaml", "plausible_dates: earliest 2030-01-01 is after latest 2020-12-31"))
def _(d: Path) -> None:
    edit_yaml(d / "study.yaml", lambda doc: doc.update(plausible_dates={"earliest": "2030-01-01",
                                                                        "latest": "2020-12-31"}))


@case("records/study.yaml-plausible-dates-not-a-calendar-date", "records", "to-sdtm", 2,
      ("study.yaml", "plausible_dates/latest", "2021-02-30"))
def _(d: Path) -> None:
    edit_yaml(d / "study.yaml", lambda doc: doc.update(plausible_dates={"latest": "2021-02-30"}))


@case("records/subjects.csv-born-after-consent", "records", "validate", 1,
      ("MSC-SDTM-027", "BRTHDTC 2010-05-01 is after", "DM row 2"))
def _(d: Path) -> None:
    replace_text(d / "subjects.csv", "02,01,Female,1986-11-09,", "02,01,Female,2010-05-01,")


# --- 4, 5. SDTM -> FHIR: dates, subjects, units ------------------------------------------------------------------

def _edit_dataset_json(name: str, row: int, variable: str, value: Any) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        def edit(doc: dict[str, Any]) -> None:
            doc["rows"][row - 1][[c["name"] for c in doc["columns"]].index(variable)] = value
        edit_json(d / f"{name}.json", edit)
    return change


def _edit_sdtm_csv(name: str, row: int, variable: str, value: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        def edit(rows: list[dict[str, str]]) -> None:
            rows[row - 1][variable] = value
        edit_csv_rows(d / f"{name}.csv", edit)
    return change


case("sdtm-json/to-fhir-lbdtc-month-13", "sdtm-json", "to-fhir", 1,
     ("lb.json row 3, LBDTC='2009-13-45'", "month 13 does not exist", "LB: read 494 = converted 493 + rejected 1"),
     {"LB": (494, 493, 1)})(_edit_dataset_json("lb", 3, "LBDTC", "2009-13-45"))
case("sdtm-csv/to-fhir-lbdtc-month-13", "sdtm-csv", "to-fhir", 1,
     ("lb.csv row 3, LBDTC='2009-13-45'", "(line 4)"), {"LB": (494, 493, 1)})(
    _edit_sdtm_csv("lb", 3, "LBDTC", "2009-13-45"))
case("sdtm-json/to-fhir-exstdtc-garbage-takes-its-suppex", "sdtm-json", "to-fhir", 1,
     ("ex.json row 4, EXSTDTC='yesterday'", "parent record in EX"),
     {"EX": (18, 17, 1), "SUPPEX": (18, 17, 1)})(_edit_dataset_json("ex", 4, "EXSTDTC", "yesterday"))
case("sdtm-json/to-fhir-aestdtc-missing-month-is-kept", "sdtm-json", "to-fhir", 0,
     ("AE: read 1 = converted 1 + rejected 0",), {"AE": (1, 1, 0)})(
    _edit_dataset_json("ae", 1, "AESTDTC", "2009---28"))
case("sdtm-json/to-fhir-lb-subject-not-in-dm", "sdtm-json", "to-fhir", 1,
     ("lb.json row 6, USUBJID='MSC-SLE-2009-01-99'", "not a subject in DM (dm.json)", "Patient: 9"),
     {"LB": (494, 493, 1), "DM": (9, 9, 0)})(_edit_dataset_json("lb", 6, "USUBJID", "MSC-SLE-2009-01-99"))
case("sdtm-csv/to-fhir-lb-subject-not-in-dm", "sdtm-csv", "to-fhir", 1,
     ("lb.csv row 6, USUBJID='MSC-SLE-2009-01-99'", "Patient: 9"), {"LB": (494, 493, 1)})(
    _edit_sdtm_csv("lb", 6, "USUBJID", "MSC-SLE-2009-01-99"))
case("sdtm-json/to-fhir-lborresu-furlongs", "sdtm-json", "to-fhir", 1,
     ("lb.json row 8, LBORRESU='furlongs'", "not a CDISC UNIT term"), {"LB": (494, 493, 1)})(
    _edit_dataset_json("lb", 8, "LBORRESU", "furlongs"))
case("sdtm-csv/to-fhir-lbstresu-furlongs", "sdtm-csv", "to-fhir", 1,
     ("lb.csv row 9, LBSTRESU='furlongs'", "not a CDISC UNIT term"), {"LB": (494, 493, 1)})(
    _edit_sdtm_csv("lb", 9, "LBSTRESU", "furlongs"))
case("sdtm-json/to-fhir-exdosu-furlongs", "sdtm-json", "to-fhir", 1,
     ("ex.json row 2, EXDOSU='furlongs'",), {"EX": (18, 17, 1), "SUPPEX": (18, 17, 1)})(
    _edit_dataset_json("ex", 2, "EXDOSU", "furlongs"))
case("sdtm-json/to-fhir-lborresu-cdisc-term-not-in-units-yaml", "sdtm-json", "to-fhir", 0,
     ("LB: read 494 = converted 494 + rejected 0",), {"LB": (494, 494, 0)})(
    _edit_dataset_json("lb", 8, "LBORRESU", "mmol/mol"))

_SUBJECT_02_LABS = sum(1 for r in LABS if r["subject_id"] == "02")


@case("sdtm-json/to-fhir-brthdtc-day-30-february-takes-the-subject", "sdtm-json", "to-fhir", 1,
      ("dm.json row 2, BRTHDTC='1986-02-30'", "the subject's record in DM (dm.json) was rejected"),
      {"DM": (9, 8, 1), "LB": (494, 494 - _SUBJECT_02_LABS, _SUBJECT_02_LABS), "EX": (18, 16, 2)})
def _(d: Path) -> None:
    _edit_dataset_json("dm", 2, "BRTHDTC", "1986-02-30")(d)


@case("sdtm-json/to-fhir-without-dm", "sdtm-json", "to-fhir", 2, ("no DM dataset",))
def _(d: Path) -> None:
    (d / "dm.json").unlink()


@case("sdtm-ndjson/to-fhir-lbdtc-hour-25", "sdtm-ndjson", "to-fhir", 1,
      ("lb.ndjson row 5, LBDTC='2009-09-30T25:00'", "(line 6)", "hour 25"), {"LB": (494, 493, 1)})
def _(d: Path) -> None:
    path = d / "lb.ndjson"
    lines = path.read_bytes().splitlines()
    head = orjson.loads(lines[0])
    col = [c["name"] for c in head["columns"]].index("LBDTC")
    row = orjson.loads(lines[5])
    row[col] = "2009-09-30T25:00"
    lines[5] = orjson.dumps(row)
    path.write_bytes(b"\n".join(lines) + b"\n")


# --- generated: each form x each column x bad values ------------------------------------------------------------
# The row broken in each form (data row index; its line is index + 2). Subject 02 has no adverse event, and its
# other records are removed in the subjects cases, so that the subject's own reject is the one reported.
BROKEN = {"subjects": 1, "exposures": 4, "adverse_events": 0, "labs": 50, "findings": 10, "vital_signs": 23, "ecg": 7,
          "medical_history": 1, "medications": 0, "disposition": 2}
ISOLATED_SUBJECT = "02"

# What the builders map beyond the schema (sdtm/dm.py, ex.py, ae.py, lb.py, build.py): a value that is not a
# term rejects the row with this code. findings row 10 is a chest X-ray (subject 02, baseline): sdtm/pr.py looks
# its visit up (issue 14; an ECG row would still be carried unmapped).
CODED = {
    ("subjects", "site_id"): "REJ-REC-006", ("subjects", "sex"): "REJ-REC-006",
    ("subjects", "race"): "REJ-REC-006", ("subjects", "ethnicity"): "REJ-REC-006",
    ("subjects", "arm_code"): "REJ-REC-006", ("subjects", "actual_arm_code"): "REJ-REC-006",
    ("exposures", "visit"): "REJ-REC-006", ("exposures", "product"): "REJ-REC-006",
    ("exposures", "dose_unit"): "REJ-REC-010", ("exposures", "route"): "REJ-REC-006",
    ("adverse_events", "reported_term"): "REJ-REC-006", ("adverse_events", "meddra_pt_code"): "REJ-REC-006",
    ("adverse_events", "severity"): "REJ-REC-006", ("adverse_events", "serious"): "REJ-REC-006",
    ("adverse_events", "relationship"): "REJ-REC-006", ("adverse_events", "action_taken"): "REJ-REC-006",
    ("adverse_events", "outcome"): "REJ-REC-006",
    ("labs", "visit"): "REJ-REC-006", ("labs", "test"): "REJ-REC-006", ("labs", "unit"): "REJ-REC-010",
    ("vital_signs", "visit"): "REJ-REC-006", ("vital_signs", "test"): "REJ-REC-006",
    ("vital_signs", "unit"): "REJ-REC-010", ("vital_signs", "position"): "REJ-REC-006",
    ("ecg", "visit"): "REJ-REC-006", ("ecg", "test"): "REJ-REC-006", ("ecg", "unit"): "REJ-REC-010",  # sdtm/eg.py
    ("findings", "visit"): "REJ-REC-006",
    ("medications", "unit"): "REJ-REC-006", ("medications", "frequency"): "REJ-REC-006",
    ("medications", "route"): "REJ-REC-006", ("disposition", "event"): "REJ-REC-006",
    **{(form, "subject_id"): "REJ-REC-008" for form in FORMS if form != "subjects"},  # a subject of subjects.csv
}
NUMERIC = {("labs", "result"): "REJ-REC-009", ("vital_signs", "result"): "REJ-REC-009"}  # numbers kept as text
NEEDED = {("labs", "unit"): "REJ-REC-010", ("vital_signs", "unit"): "REJ-REC-010",
          ("ecg", "unit"): "REJ-REC-010"}  # a numeric result needs its unit
WITH_TIME = {("vital_signs", "date")}  # the row has a `time`: a partial date cannot take it (sdtm/vs.py)
PHRASE = {"REJ-REC-001": "is empty", "REJ-REC-006": "is not", "REJ-REC-007": "is not a valid date",
          "REJ-REC-008": "subject is not in", "REJ-REC-009": "not a number", "REJ-REC-010": "unit",
          "REJ-REC-012": "outside the plausible dates", "pattern": "does not have the expected form",
          "enum": "must be one of", "maxLength": "longer than", "control": "control character"}


def _property(form: str, col: str) -> dict[str, Any]:
    return SCHEMA["$defs"][form]["properties"][col]


def _schema_error(form: str, col: str, value: str) -> str | None:
    """The JSON Schema keyword the value breaks (pattern, enum, maxLength, ...), or None."""
    schema = {**_property(form, col), "$defs": SCHEMA["$defs"]}
    error = next(jsonschema.Draft202012Validator(schema).iter_errors(value), None)
    return None if error is None else str(error.validator)


def _is_date(form: str, col: str) -> bool:
    return _property(form, col).get("$ref") in ("#/$defs/partial_date", "#/$defs/partial_datetime")


def _is_number(form: str, col: str) -> bool:
    ref = _property(form, col).get("$ref")
    return ref == "#/$defs/decimal" or (form, col) in NUMERIC or _property(form, col).get("pattern", "") in (
        "^[0-9]{1,3}$", "^[0-9]{8}$")


def expected(form: str, col: str, kind: str, value: str) -> tuple[str, str] | None:
    """(reject code, a phrase of its reason) the row must get, or None when it is converted; from the schema."""
    if value == "":
        if col in SCHEMA["$defs"][form]["required"]:
            return "REJ-REC-001", PHRASE["REJ-REC-001"]
        code = NEEDED.get((form, col))
        return (code, PHRASE[code]) if code else None
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        return "REJ-REC-002", PHRASE["control"]
    keyword = _schema_error(form, col, value)
    if keyword is not None:
        return "REJ-REC-002", PHRASE[keyword]
    if kind in ("impossible date", "impossible month") or (kind == "partial date" and (form, col) in WITH_TIME):
        return "REJ-REC-007", PHRASE["REJ-REC-007"]
    if kind in ("year 0001", "year 9999"):
        return "REJ-REC-012", PHRASE["REJ-REC-012"]
    if kind in ("text in a number", "too long", "unknown code") and (form, col) in NUMERIC:
        return NUMERIC[(form, col)], PHRASE[NUMERIC[(form, col)]]
    if kind in ("text in a number", "too long", "unknown code") and (form, col) in CODED:
        return CODED[(form, col)], PHRASE[CODED[(form, col)]]
    return None


def bad_values(form: str, col: str, good: str) -> list[tuple[str, str]]:
    """(kind, value) of the bad values that apply to a column of a form. Checks that work the same on every
    column of a kind (control characters; the forms of a date) are tried on a few columns each, so that the
    family stays quick: every column of a form for the first date column and the first two columns."""
    columns = list(SCHEMA["$defs"][form]["properties"])
    dates = [c for c in columns if _is_date(form, c)]
    out = [("blank", "")]
    if columns.index(col) < 2:
        out += [("control character", (good or "x") + "\x07")]
    if _is_date(form, col):
        out += [("impossible date", "2021-02-30"), ("year 9999", "9999-12-31")]
        if col == dates[0]:
            partial = good[:7] if len(good) >= 7 else "2009-06"
            out += [("impossible month", "2021-13"), ("garbage date", "31/12/2021"), ("partial date", partial),
                    ("year 0001", "0001-06-15")]
    elif _is_number(form, col):
        out += [("text in a number", "abc")]
    else:
        out += [("too long", "A" * 201)]
    if (form, col) in CODED or "enum" in _property(form, col) or _property(form, col).get("$ref") == \
            "#/$defs/yes_no":
        out += [("unknown code", "99999999" if col == "meddra_pt_code" else "XYZ")]
    return out


def _set_cell(path: Path, index: int, col: str, value: str) -> None:
    """One cell of a CSV form (the column is added, empty elsewhere, when the fixture lacks it)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        names, rows = list(reader.fieldnames or []), list(reader)
    if col not in names:
        names.append(col)
    rows[index][col] = value
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def _change(form: str, col: str, value: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        _set_cell(d / FORMS[form]["file"], BROKEN[form], col, value)
        if form == "subjects":
            for other, spec in FORMS.items():
                if other != "subjects" and (d / spec["file"]).exists():
                    edit_csv_rows(d / spec["file"],
                                  lambda rows: [r for r in rows if r["subject_id"] != ISOLATED_SUBJECT])
    return change


def _family() -> None:
    for form, spec in FORMS.items():
        file, index = spec["file"], BROKEN[form]
        row = _rows(file)[index]
        line, n = index + 2, N[form]
        for col in SCHEMA["$defs"][form]["properties"]:
            good = row.get(col, "")
            for kind, value in bad_values(form, col, good):
                if value == good:
                    continue  # blank where the fixture is already blank: nothing to test
                outcome = expected(form, col, kind, value)
                cid = f"records/{form}.{col}-{kind.replace(' ', '-')}"
                if outcome is None:
                    case(cid, "records", "to-sdtm", 0, (f"{form}: read {n} = ",), {form: (n, n, 0)})(
                        _change(form, col, value))
                else:
                    case(cid, "records", "to-sdtm", 1, (f"{file} row {line}, {col}=", outcome[1]),
                         {form: (n, n - 1, 1)})(_change(form, col, value))


_family()
