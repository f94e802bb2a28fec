"""Bad SDTM files and partial runs (issue 17): cut XPT files, Dataset-JSON whose `records` disagrees with its
rows, NDJSON lines that do not parse, more than one STUDYID, values over 200 UTF-8 bytes in study records, runs
that fail late (the reject report is still written), and temporary files a killed run left behind.

The XPT cases know the example study's lb.xpt: 26 variables (header 4,400 bytes), 257 bytes a row, 494 rows,
2 bytes of padding, 131,360 bytes; each change checks the size first, so a change of the fixture fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .registry import case, edit_bundle_entry, edit_csv_rows, edit_json

# --- XPT cut short ------------------------------------------------------------------------------------------------

LB_HEADER, LB_ROW, LB_ROWS, LB_SIZE = 4400, 257, 494, 131_360
RECORD = 80


def _cut(name: str, at: Callable[[int], int], size: int | None = None) -> Callable[[Path], None]:
    """Cut d/name to its first at(size) bytes."""
    def change(d: Path) -> None:
        raw = (d / name).read_bytes()
        assert size is None or len(raw) == size, f"{name} is {len(raw)} bytes, the cases expect {size}"
        (d / name).write_bytes(raw[:at(len(raw))])
    return change


def _lb_cut_says(at: int) -> tuple[str, ...]:
    """What the refusal of lb.xpt cut to `at` bytes must say (the arithmetic of xpt_layout, done by hand)."""
    if at < LB_HEADER:
        return ("lb.xpt", "ends inside its header", "truncated?")
    whole, rest = divmod(at - LB_HEADER, LB_ROW)
    if rest and not (whole == LB_ROWS and rest < RECORD):  # a partial row, not the padding after the last one
        return ("lb.xpt", f"ends inside row {whole + 1}", f"{whole} whole rows of {LB_ROW} bytes", "truncated?")
    return ("lb.xpt", "not a whole number of 80-byte records", f"{whole} whole rows", "truncated?")


_LB_CUTS = {
    "quarter": LB_SIZE // 4, "half": LB_SIZE // 2, "three-quarters": 3 * LB_SIZE // 4,
    "last-byte": LB_SIZE - 1, "padding": LB_SIZE - 2, "last-row-one-byte": LB_SIZE - 3,
    "first-row-one-byte": LB_HEADER + 1, "first-record-of-data": LB_HEADER + RECORD,
    "in-library-header": 100, "in-variable-descriptions": 700, "before-obs-header": LB_HEADER - RECORD,
    # every 80-byte record boundary inside the last two rows: each lands inside a row
    **{f"record-boundary-{k}-from-end": LB_SIZE - k * RECORD for k in range(1, 8)},
}
for _id, _at in _LB_CUTS.items():
    case(f"sdtm-xpt/lb-cut-{_id}", "sdtm-xpt", "to-sdtm", 2, _lb_cut_says(_at))(_cut("lb.xpt", lambda n, a=_at: a,
                                                                                       LB_SIZE))

case("sdtm-xpt/lb-cut-half-validate", "sdtm-xpt", "validate", 1, ("lb.xpt", "ends inside row 239", "truncated?"))(
    _cut("lb.xpt", lambda n: n // 2, LB_SIZE))
case("sdtm-xpt/lb-cut-half-to-fhir", "sdtm-xpt", "to-fhir", 2, ("lb.xpt", "ends inside row 239", "truncated?"))(
    _cut("lb.xpt", lambda n: n // 2, LB_SIZE))
case("sdtm-xpt/lb-cut-half-summary", "sdtm-xpt", "summary", 2, ("lb.xpt", "ends inside row 239"))(
    _cut("lb.xpt", lambda n: n // 2, LB_SIZE))
for _ds in ("dm", "ex", "ts", "suppex"):
    case(f"sdtm-xpt/{_ds}-cut-half", "sdtm-xpt", "to-sdtm", 2, (f"{_ds}.xpt", "truncated?"))(
        _cut(f"{_ds}.xpt", lambda n: n // 2))
    case(f"sdtm-xpt/{_ds}-cut-last-byte", "sdtm-xpt", "to-sdtm", 2, (f"{_ds}.xpt", "80-byte records"))(
        _cut(f"{_ds}.xpt", lambda n: n - 1))

# The limit: a cut on a record boundary that is also a row boundary (every lcm(80, 257) = 20,560 bytes of data,
# i.e. every 80 rows) leaves a whole, shorter dataset that no byte of the file tells from the real one.
case("sdtm-xpt/lb-cut-at-row-80-undetectable", "sdtm-xpt", "to-sdtm", 0, ("lb.csv (80 records)",))(
    _cut("lb.xpt", lambda n: LB_HEADER + 80 * LB_ROW, LB_SIZE))
case("sdtm-xpt/lb-cut-after-header-undetectable", "sdtm-xpt", "to-sdtm", 0, ("lb.csv (0 records)",))(
    _cut("lb.xpt", lambda n: LB_HEADER, LB_SIZE))


@case("sdtm-xpt/lb-holds-a-second-dataset", "sdtm-xpt", "to-sdtm", 2, ("lb.xpt", "more than one dataset", "DM"))
def _(d: Path) -> None:
    # a second member (DM's, after its library header) appended: pyreadstat read its bytes as 25 more LB rows
    (d / "lb.xpt").write_bytes((d / "lb.xpt").read_bytes() + (d / "dm.xpt").read_bytes()[3 * RECORD:])


@case("sdtm-xpt/lb-is-text", "sdtm-xpt", "to-sdtm", 2, ("lb.xpt", "not a SAS XPORT"))
def _(d: Path) -> None:
    (d / "lb.xpt").write_text("STUDYID,DOMAIN\nMSC,LB\n", encoding="utf-8")


@case("sdtm-xpt/lb-empty", "sdtm-xpt", "to-sdtm", 2, ("lb.xpt", "empty"))
def _(d: Path) -> None:
    (d / "lb.xpt").write_bytes(b"")


# --- Dataset-JSON: `records` (1.1: required, integer >= 0, the number of rows) --------------------------------------

ROWS = {"ae": 1, "dm": 9, "ex": 18, "lb": 494, "suppex": 18, "ts": 7, "tv": 7}  # (TS: 6 parameters + SSTDTC)


def _records(name: str, fmt: str, fn: Callable[[Any], Any], expect: int | None = None) -> Callable[[Path], None]:
    """Set the header's `records` to fn(records) in d/<name>.<fmt>."""
    def change(d: Path) -> None:
        path = d / f"{name}.{fmt}"
        if fmt == "json":
            doc = orjson.loads(path.read_bytes())
            assert expect is None or doc["records"] == expect
            doc["records"] = fn(doc["records"])
            path.write_bytes(orjson.dumps(doc))
        else:
            head, rest = path.read_bytes().split(b"\n", 1)
            meta = orjson.loads(head)
            assert expect is None or meta["records"] == expect
            meta["records"] = fn(meta["records"])
            path.write_bytes(orjson.dumps(meta) + b"\n" + rest)
    return change


for _fmt in ("json", "ndjson"):
    for _name, _n in ROWS.items():
        for _off in (-1, 1):
            case(f"sdtm-{_fmt}/{_name}-records-{'minus' if _off < 0 else 'plus'}-one", f"sdtm-{_fmt}", "to-sdtm", 2,
                 (f"{_name}.{_fmt}", f"'records' says {_n + _off}", f"holds {_n} rows"))(
                _records(_name, _fmt, lambda r, o=_off: r + o, _n))

for _id, _value, _says in (("a-string", "494", 'the string "494"'), ("negative", -1, "the number -1"),
                           ("a-boolean", True, "the boolean true"), ("a-fraction", 494.5, "the number 494.5")):
    case(f"sdtm-json/lb-records-is-{_id}", "sdtm-json", "to-sdtm", 2, ("lb.json", "'records' is", _says))(
        _records("lb", "json", lambda r, v=_value: v))
case("sdtm-ndjson/lb-records-is-a-string", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson line 1", 'the string "494"'))(
    _records("lb", "ndjson", lambda r: str(r)))
# JSON Schema's integer includes 494.0; a missing `records` is read (validate reports it, MSC-DJSON-001)
case("sdtm-json/lb-records-is-494.0", "sdtm-json", "to-sdtm", 0, ("lb.csv (494 records)",))(
    _records("lb", "json", lambda r: float(r)))
case("sdtm-json/lb-records-missing", "sdtm-json", "to-sdtm", 0, ("lb.csv (494 records)",))(
    lambda d: edit_json(d / "lb.json", lambda doc: doc.pop("records") and None))


# --- Dataset-JSON text cut or broken -------------------------------------------------------------------------------

def _ndjson_lines(d: Path, fn: Callable[[list[bytes]], list[bytes]]) -> None:
    path = d / "lb.ndjson"
    path.write_bytes(b"\n".join(fn(path.read_bytes().split(b"\n"))))


case("sdtm-ndjson/lb-line-51-cut-short", "sdtm-ndjson", "to-sdtm", 2,
     ("lb.ndjson line 51 (row 50)", "not valid JSON", "column"))(
    lambda d: _ndjson_lines(d, lambda ls: [*ls[:50], ls[50][:-5], *ls[51:]]))
case("sdtm-ndjson/lb-two-rows-on-line-11", "sdtm-ndjson", "to-sdtm", 2,
     ("lb.ndjson line 11 (row 10)", "not valid JSON"))(
    lambda d: _ndjson_lines(d, lambda ls: [*ls[:10], ls[10] + b"," + ls[11], *ls[12:]]))
case("sdtm-ndjson/lb-metadata-line-broken", "sdtm-ndjson", "to-sdtm", 2,
     ("lb.ndjson line 1 (metadata)", "not valid JSON"))(
    lambda d: _ndjson_lines(d, lambda ls: [ls[0][:-2], *ls[1:]]))
case("sdtm-ndjson/lb-cut-at-a-line-end", "sdtm-ndjson", "to-sdtm", 2,
     ("lb.ndjson line 1", "'records' says 494", "holds 199 rows", "truncated"))(
    lambda d: _ndjson_lines(d, lambda ls: [*ls[:200], b""]))
case("sdtm-ndjson/lb-cut-half", "sdtm-ndjson", "to-sdtm", 2, ("lb.ndjson line", "the file ends inside this line",
                                                              "truncated?"))(_cut("lb.ndjson", lambda n: n // 2))
case("sdtm-ndjson/dm-cut-last-byte", "sdtm-ndjson", "to-sdtm", 2, ("dm.ndjson line 10 (row 9)", "truncated?"))(
    _cut("dm.ndjson", lambda n: n - 2))  # the last row loses its "]" (and the newline)
case("sdtm-json/lb-cut-half", "sdtm-json", "to-sdtm", 2, ("lb.json", "not valid JSON", "truncated?"))(
    _cut("lb.json", lambda n: n // 2))
case("sdtm-json/lb-cut-last-byte", "sdtm-json", "to-sdtm", 2, ("lb.json", "not valid JSON", "truncated?"))(
    _cut("lb.json", lambda n: n - 1))


# --- more than one STUDYID -----------------------------------------------------------------------------------------

STUDY = "MSC-SLE-2009"


def _studyid_csv(name: str, rows: list[int] | None, value: str) -> Callable[[Path], None]:
    """STUDYID := value in the given data rows (0-based) of d/<name>.csv, or in all rows."""
    def change(d: Path) -> None:
        def edit(rs: list[dict[str, str]]) -> None:
            for i in range(len(rs)) if rows is None else rows:
                assert rs[i]["STUDYID"] == STUDY
                rs[i]["STUDYID"] = value
        edit_csv_rows(d / f"{name}.csv", edit)
    return change


case("sdtm-csv/ae-other-studyid", "sdtm-csv", "to-sdtm", 2, ("more than one STUDYID", "'XX' in ae.csv",
                                                             f"'{STUDY}' in cm.csv, dm.csv"))(
    _studyid_csv("ae", None, "XX"))
case("sdtm-csv/lb-two-rows-other-studyid", "sdtm-csv", "to-fhir", 2,
     ("'YY' in lb.csv (2 of 494 rows, first row 3)",))(_studyid_csv("lb", [2, 4], "YY"))
case("sdtm-csv/ae-other-studyid-validate", "sdtm-csv", "validate", 1, ("'XX' in ae.csv",))(
    _studyid_csv("ae", None, "XX"))


@case("sdtm-json/dm-other-studyid", "sdtm-json", "to-sdtm", 2, ("'OTHER' in dm.json", f"'{STUDY}' in ae.json"))
def _(d: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        col = [c["name"] for c in doc["columns"]].index("STUDYID")
        for row in doc["rows"]:
            row[col] = "OTHER"
    edit_json(d / "dm.json", change)


@case("sdtm-xpt/ts-other-studyid", "sdtm-xpt", "to-sdtm", 2, ("'OTHER' in ts.xpt", f"'{STUDY}' in ae.xpt"))
def _(d: Path) -> None:
    from msc_interop.sdtm.xpt import read_xpt, write_xpt

    name, df = read_xpt(d / "ts.xpt")
    df["STUDYID"] = "OTHER"
    write_xpt(df, name, d / "ts.xpt")


# --- study records: SDTM's 200 is in UTF-8 bytes, as XPT v5 stores it ------------------------------------------------

def _cell(form: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set `column` of spreadsheet row `row` (header = row 1) of d/<form>.csv."""
    def change(d: Path) -> None:
        def edit(rs: list[dict[str, str]]) -> None:
            rs[row - 2][column] = value
        edit_csv_rows(d / f"{form}.csv", edit)
    return change


LABS_ONE_REJECTED = {"labs": (494, 493, 1)}
for _id, _value in (("150-e-acute-300-bytes", "é" * 150), ("67-euro-201-bytes", "€" * 67),
                    ("a-then-e-acute-201-bytes", "a" * 199 + "é")):
    case(f"records/labs.csv-lab_name-{_id}", "records", "to-sdtm", 1,
         ("labs.csv row 101", "lab_name", "longer than 200 bytes in UTF-8"), LABS_ONE_REJECTED)(
        _cell("labs", 101, "lab_name", _value))
case("records/labs.csv-lab_name-300-a", "records", "to-sdtm", 1, ("labs.csv row 101", "lab_name", "200 characters"),
     LABS_ONE_REJECTED)(_cell("labs", 101, "lab_name", "a" * 300))
case("records/labs.csv-lab_name-100-e-acute-200-bytes", "records", "to-sdtm", 0, ("labs: read 494 = converted 494",),
     {"labs": (494, 494, 0)})(_cell("labs", 101, "lab_name", "é" * 100))
case("records/labs.csv-result-101-micro-202-bytes", "records", "to-sdtm", 1, ("labs.csv row 7", "'result'", "bytes"),
     LABS_ONE_REJECTED)(_cell("labs", 7, "result", "µ" * 101))
case("records/adverse_events.csv-reported_term-201-bytes", "records", "to-sdtm", 1,
     ("adverse_events.csv row 2", "reported_term", "bytes"), {"adverse_events": (1, 0, 1)})(
    _cell("adverse_events", 2, "reported_term", "é" * 100 + "x"))


# --- runs that fail late still write their reject report --------------------------------------------------------------

def _block(*parts: str, folder: bool = False) -> Callable[[Path], None]:
    """Put a file (or a folder) where the run must write: out/<parts> beside the input copy d."""
    def change(d: Path) -> None:
        target = d.parent.joinpath("out", *parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if folder:
            target.mkdir()
        else:
            target.write_text("in the way\n", encoding="utf-8")
    return change


def _both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        for c in changes:
            c(d)
    return change


_BAD_LAB = _cell("labs", 101, "result", "")  # a required field left empty: one lab row rejected
case("records/late-failure-output-folder-is-a-file", "records", "to-sdtm", 2,
     ("cannot write", "csv", "rejects.csv", "1 record rejected"), LABS_ONE_REJECTED)(
    _both(_BAD_LAB, _block("csv")))
case("records/late-failure-bundle-is-a-folder", "records", "to-fhir", 2, ("cannot write", "bundle.json", "rejects.csv"),
     LABS_ONE_REJECTED)(_both(_BAD_LAB, _block("bundle.json", folder=True)))
case("fhir/late-failure-output-folder-is-a-file", "fhir-bundle", "from-fhir", 2,
     ("cannot write", "csv", "rejects.csv", "1 record rejected"), {"Observation": (1264, 1263, 1)})(
    _both(lambda d: edit_bundle_entry(d, "Observation", lambda e: e["resource"].update(valueQuantity=[1])),
          _block("csv")))


# --- temporary files a killed run left in the output folder ------------------------------------------------------

def _stale(*parts: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        target = d.parent.joinpath("out", *parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"half a dataset")
    return change


# a process id above Linux's pid_max (2**22) names a process that cannot be running
case("records/stale-part-in-output", "records", "to-sdtm", 0,
     ("removed 1 unfinished temporary file", "csv/.lb.csv.99999999.k2j4h6g8.part"))(
    _stale("csv", ".lb.csv.99999999.k2j4h6g8.part"))
case("records/stale-part-without-pid", "records", "to-sdtm", 0,
     ("removed 2 unfinished temporary file", ".rejects.json.abcd_123.part", "csv/.dm.csv.x1y2z3w4.part"))(
    _both(_stale(".rejects.json.abcd_123.part"), _stale("csv", ".dm.csv.x1y2z3w4.part")))
case("fhir/stale-part-in-output", "fhir-bundle", "from-fhir", 0,
     ("removed 1 unfinished temporary file", ".lb.csv.99999999.k2j4h6g8.part"))(
    _stale("csv", ".lb.csv.99999999.k2j4h6g8.part"))
case("records/stale-part-in-fhir-output", "records", "to-fhir", 0,
     ("removed 1 unfinished temporary file", ".bundle.json.99999999.k2j4h6g8.part"))(
    _stale(".bundle.json.99999999.k2j4h6g8.part"))
