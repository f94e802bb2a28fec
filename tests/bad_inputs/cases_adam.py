"""ADaM (issue 15): to-adam on broken input, and summary / validate on a broken ADaM folder. An ADaM folder is not
a `copy_of` kind: the cases that break one write it first from the copied SDTM (api.to_adam into d/adam) and then
read d/adam/<format> (Case.input)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .registry import case, edit_csv_rows, edit_json

PINNED = "2026-01-01T00:00:00"


def _adam(d: Path, fmt: str) -> Path:
    from msc_interop.api import to_adam

    to_adam([d], d / "adam", formats=[fmt], created=PINNED, validate=False)
    for p in list(d.iterdir()):  # leave the ADaM only: the SDTM copy is its source, not the input
        if p.is_file():
            p.unlink()
    return d / "adam" / fmt


# --- to-adam on broken study data ---------------------------------------------------------------------------

@case("adam/to-adam-sdtm-without-dm", "sdtm-json", "to-adam", 2, ("no DM", "ADSL", "cannot be made"))
def _(d: Path) -> None:
    (d / "dm.json").unlink()


@case("adam/to-adam-ae-without-start-column", "records", "to-adam", 2, ("adverse_events.csv", "start_datetime"))
def _(d: Path) -> None:
    edit_csv_rows(d / "adverse_events.csv", lambda rows: [{k: v for k, v in r.items() if k != "start_datetime"}
                                                          for r in rows])


@case("adam/to-adam-cut-lb-xpt", "sdtm-xpt", "to-adam", 2, ("lb.xpt", "truncated?"))
def _(d: Path) -> None:
    raw = (d / "lb.xpt").read_bytes()
    (d / "lb.xpt").write_bytes(raw[:len(raw) // 2])


# --- a broken ADaM folder -------------------------------------------------------------------------------------

def _in_adam(fmt: str, fn: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        fn(_adam(d, fmt))
    return change


def _cut(name: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        raw = (folder / name).read_bytes()
        (folder / name).write_bytes(raw[:len(raw) // 2])
    return change


def _adsl_twice(folder: Path) -> None:
    def twice(doc: dict) -> dict:
        doc["rows"].append(doc["rows"][2])
        doc["records"] += 1
        return doc
    edit_json(folder / "adsl.json", twice)


def _trtemfl_n(folder: Path) -> None:
    def edit(doc: dict) -> dict:
        i = [c["name"] for c in doc["columns"]].index("TRTEMFL")
        doc["rows"][0][i] = "N"
        return doc
    edit_json(folder / "adae.json", edit)


def _records_wrong(folder: Path) -> None:
    edit_json(folder / "adsl.json", lambda doc: {**doc, "records": doc["records"] + 1})


case("adam/summary-adsl-xpt-cut", "sdtm-json", "summary", 2, ("adsl.xpt", "truncated?"),
     input="adam/xpt")(_in_adam("xpt", _cut("adsl.xpt")))
case("adam/summary-adsl-json-records-wrong", "sdtm-json", "summary", 2,
     ("adsl.json", "'records' says 10 but the file holds 9 rows"), input="adam/json")(_in_adam("json", _records_wrong))
case("adam/validate-adsl-subject-twice", "sdtm-json", "validate", 1,
     ("MSC-ADAM-002", "adsl.json", "ADSL row 10", "MSC-SLE-2009-01-03"), input="adam/json")(
    _in_adam("json", _adsl_twice))
case("adam/validate-trtemfl-n", "sdtm-json", "validate", 1,
     ("MSC-ADAM-005", "adae.json", "TRTEMFL", "MSC-SLE-2009-01-04"), input="adam/json")(
    _in_adam("json", _trtemfl_n))
case("adam/validate-adlb-xpt-cut", "sdtm-json", "validate", 1, ("MSC-IO-001", "adlb.xpt", "truncated?"),
     input="adam/xpt")(_in_adam("xpt", _cut("adlb.xpt")))
