"""Bad SDTM datasets: Dataset-JSON, its NDJSON form, CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .registry import case, edit_csv_rows, edit_json

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


# the dataset name must be text (the fuzzer found: a list made the error message's file lookup crash, an object
# named the folder instead of the file)
for _id, _name in (("a-list", []), ("an-object", {}), ("a-number", 5), ("empty", ""), ("not-sdtm", "L[B")):
    case(f"sdtm-json/lb-name-is-{_id}", "sdtm-json", "to-sdtm", 2, ("lb.json", "name"))(
        lambda d, n=_name: edit_json(d / "lb.json", lambda doc: doc.update(name=n)))
