"""Fuzzing (hypothesis) of the three readers users feed by hand: study-records CSV, SDTM Dataset-JSON and FHIR.

Whatever the bytes, a command ends with a status a data manager can act on (0, 1 or 2: never the internal-error
status 3, never an exception), and when it converts anything its counts reconcile: every record the file holds is
read, and read = converted + rejected (+ skipped), with one reject line per rejected record.

Each example breaks a small copy of a good input (a few records, so an example takes a fraction of a second).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .sources import copy_of, run_cli

KEEP = 12  # records kept in the fuzzed file

FUZZ = settings(max_examples=int(os.environ.get("MSC_FUZZ_EXAMPLES", "15")), deadline=None,
                derandomize=not os.environ.get("MSC_FUZZ_EXAMPLES"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# JSON values of every type, nested a little: what a hostile or careless exporter may put anywhere
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)

# characters that break CSV and text handling, plus ordinary text
csv_chars = st.sampled_from(['"', ",", "\n", "\r", "\r\n", "\x00", "\t", ";", "é", "\u2028", "\ufeff", "a", "1",
                             " ", "''"])


def _counts(out: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((out / "rejects.json").read_text(encoding="utf-8"))
    return {c["form"]: c | {"rejects": [r for r in report["rejects"] if r["form"] == c["form"]]}
            for c in report["counts"]}


def _assert_reconciles(out: Path, form: str, expected_read: int | None) -> None:
    count = _counts(out)[form]
    skipped = count.get("skipped", 0)
    assert count["read"] == count["converted"] + count["rejected"] + skipped, count
    if expected_read is not None:
        assert count["read"] == expected_read, count
    rejected_rows = {(r["file"], r["row"]) for r in count["rejects"] if r["row"]}
    # every rejected record is listed (a record may have several reasons)
    assert len(rejected_rows) >= count["rejected"], count


def _run(command: str, src: Path, out: Path) -> Any:
    args: list[object] = [command, src, "-o", out]
    if command in ("to-sdtm", "from-fhir"):
        args += ["--format", "csv"]
    if command in ("to-sdtm", "to-fhir"):
        args += ["--no-validate"]
    res = run_cli(*args)
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"traceback: {type(res.exception).__name__}: {res.exception}\n{res.output}")
    assert res.exit_code in (0, 1, 2), res.output
    return res


def _fresh(kind: str, root: Path) -> tuple[Path, Path]:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return copy_of(kind, root / "in"), root / "out"


# --- study-records CSV ------------------------------------------------------------------------------------------

def _labs_rows(folder: Path) -> list[list[str]]:
    with open(folder / "labs.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))[: KEEP + 1]


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _csv_data_rows(text: str) -> int:
    """How many records the file holds for a data manager: each non-blank line after the header starts one (a
    quoted value spanning lines is rejected line by line, so each of its lines is read): the count nothing may
    lose."""
    lines = re.split("\r\n|\r|\n", text)[1:]  # CR alone ends a line too (old Mac files; pandas and Excel agree)
    return sum(1 for line in lines if line.strip(" \t"))  # blank: spaces and tabs only, as pandas skips


@FUZZ
@given(cells=st.lists(st.tuples(st.integers(1, KEEP), st.integers(0, 8), st.lists(csv_chars, max_size=6).map("".join)),
                      min_size=1, max_size=4))
def test_records_csv_cells(cells: list[tuple[int, int, str]], tmp_path: Path) -> None:
    """Any text in any cell, quoted as the csv module quotes it: each line is converted or rejected, none
    disappears."""
    src, out = _fresh("records", tmp_path / "case")
    rows = _labs_rows(src)
    for row, col, text in cells:
        rows[row][col] = text
    _write_rows(src / "labs.csv", rows)
    res = _run("to-sdtm", src, out)
    if res.exit_code != 2:
        _assert_reconciles(out, "labs", _csv_data_rows((src / "labs.csv").read_text(encoding="utf-8")))


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), csv_chars), min_size=1, max_size=4))
def test_records_csv_bytes(edits: list[tuple[float, int, str]], tmp_path: Path) -> None:
    """Raw edits of the file (stray quotes, cut lines, NUL bytes): no crash; every line is read (or the file is
    refused as a whole, exit 2)."""
    src, out = _fresh("records", tmp_path / "case")
    _write_rows(src / "labs.csv", _labs_rows(src))
    text = (src / "labs.csv").read_text(encoding="utf-8")
    header_end = text.index("\n") + 1
    for where, cut, new in edits:
        at = header_end + int(where * (len(text) - header_end))
        text = text[:at] + new + text[at + cut:]
    (src / "labs.csv").write_text(text, encoding="utf-8", newline="")
    res = _run("to-sdtm", src, out)
    if res.exit_code != 2:
        _assert_reconciles(out, "labs", _csv_data_rows(text))


# --- SDTM Dataset-JSON -------------------------------------------------------------------------------------------

def _small_dataset(path: Path) -> dict[str, Any]:
    doc = orjson.loads(path.read_bytes())
    doc["rows"] = doc["rows"][:KEEP]
    doc["records"] = len(doc["rows"])
    return doc


@FUZZ
@given(target=st.sampled_from(["cell", "column", "top"]), row=st.integers(0, KEEP - 1), col=st.integers(0, 30),
       key=st.sampled_from(["name", "dataType", "label", "length", "itemOID", "displayFormat", "keySequence"]),
       top=st.sampled_from(["columns", "rows", "records", "itemGroupOID", "name", "datasetJSONVersion"]),
       value=json_values)
def test_dataset_json_values(target: str, row: int, col: int, key: str, top: str, value: Any,
                             tmp_path: Path) -> None:
    """Any JSON value in a cell, a column attribute or a top-level member of lb.json: the dataset converts whole
    (exit 0) or is refused naming lb.json (exit 2)."""
    src, out = _fresh("sdtm-json", tmp_path / "case")
    doc = _small_dataset(src / "lb.json")
    if target == "cell":
        doc["rows"][row][col % len(doc["columns"])] = value
    elif target == "column":
        doc["columns"][col % len(doc["columns"])][key] = value
    else:
        doc[top] = value
    (src / "lb.json").write_text(json.dumps(doc), encoding="utf-8")  # json, not orjson: any integer size
    res = _run("to-sdtm", src, out)
    if res.exit_code == 2:
        assert "lb.json" in res.output, res.output
    else:  # SDTM in: a dataset is converted whole or refused whole (exit 2), never shortened
        assert res.exit_code == 0, res.output
        with open(out / "csv" / "lb.csv", newline="", encoding="utf-8") as fh:
            assert sum(1 for _ in csv.reader(fh)) == KEEP + 1


# --- FHIR ---------------------------------------------------------------------------------------------------------

def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document (object member or list item), depth first."""
    found = [at] if at else []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*at, i))
    return found


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def _drop(node: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]


def _fhir_case(tmp_path: Path, resource_file: str,
               edit: Callable[[list[dict[str, Any]]], None]) -> tuple[Any, Path, int]:
    src, out = _fresh("fhir-ndjson", tmp_path / "case")
    path = src / resource_file
    resources = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()][:KEEP]
    edit(resources)
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return _run("from-fhir", src, out), out, len(resources)


@FUZZ
@given(which=st.integers(0, KEEP - 1), pick=st.floats(0, 1), drop=st.booleans(), value=json_values,
       resource=st.sampled_from(["Observation", "Patient", "MedicationAdministration"]))
def test_fhir_resource_values(which: int, pick: float, drop: bool, value: Any, resource: str,
                              tmp_path: Path) -> None:
    """Any element of a resource replaced by any JSON value, or removed: no crash, and the resources of that type
    are all accounted for."""
    def edit(resources: list[dict[str, Any]]) -> None:
        doc = resources[which % len(resources)]
        paths = [p for p in _paths(doc) if p != ("resourceType",)]
        path = paths[int(pick * (len(paths) - 1))]
        if drop:
            _drop(doc, path)
        else:
            _set(doc, path, value)

    res, out, n = _fhir_case(tmp_path, f"{resource}.ndjson", edit)
    if res.exit_code != 2:
        _assert_reconciles(out, resource, n)


@FUZZ
@given(which=st.integers(0, KEEP - 1), key=st.text(max_size=12), value=json_values)
def test_fhir_unknown_members(which: int, key: str, value: Any, tmp_path: Path) -> None:
    """A member the reader does not know (or an extension-like `_x`) never changes what is read."""
    def edit(resources: list[dict[str, Any]]) -> None:
        if key != "resourceType":
            resources[which][key] = value

    res, out, n = _fhir_case(tmp_path, "Observation.ndjson", edit)
    if res.exit_code != 2:
        _assert_reconciles(out, "Observation", n)
