"""Damaged Dataset-JSON: a bad NDJSON line is named by its own line and row (whatever block it is parsed in),
`records` must be the number of rows (Dataset-JSON 1.1: required, integer >= 0), and a cut file says so."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pandas as pd
import pytest

from msc_interop.errors import InputError
from msc_interop.sdtm import datasetjson_read
from msc_interop.sdtm.datasetjson import write_dataset_json
from msc_interop.sdtm.datasetjson_read import read_dataset_json

CREATED = "2026-01-01T00:00:00"


@pytest.fixture
def ndjson(tmp_path: Path) -> Path:
    df = pd.DataFrame({"STUDYID": ["S"] * 300, "USUBJID": [f"S-{i}" for i in range(300)],
                       "LBSEQ": range(1, 301), "LBORRES": [f"{i}.5" for i in range(300)]})
    path = tmp_path / "lb.ndjson"
    write_dataset_json(df, "LB", path, ndjson=True, created=CREATED)
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _error(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read_dataset_json(path)
    return str(info.value)


@pytest.mark.parametrize("block", [64 << 20, 1000, 1])
def test_a_bad_line_is_named_by_line_and_row_in_any_block(ndjson: Path, monkeypatch: pytest.MonkeyPatch,
                                                          block: int) -> None:
    """Parsed a block of lines at a time, the error of one orjson call on the block says "line 1 column 13234";
    the message must name the file's own line (and row = line - 1)."""
    monkeypatch.setattr(datasetjson_read, "NDJSON_BLOCK", block)
    lines = _lines(ndjson)
    lines[250] = lines[250][:-1]  # line 251 (row 250) loses its closing bracket
    ndjson.write_bytes(b"\n".join(lines))
    assert re.match(r"lb\.ndjson line 251 \(row 250\): not valid JSON \(.* at column \d+\)", _error(ndjson))


def test_blank_lines_count_as_lines_not_rows(ndjson: Path) -> None:
    lines = _lines(ndjson)
    lines[101] = lines[101][:-1]  # row 101, line 102: its closing bracket gone
    ndjson.write_bytes(b"\n".join([*lines[:3], b"", b"  ", *lines[3:]]))
    assert _error(ndjson).startswith("lb.ndjson line 104 (row 101): not valid JSON")


def test_two_rows_on_one_line_are_refused(ndjson: Path) -> None:
    lines = _lines(ndjson)
    ndjson.write_bytes(b"\n".join([*lines[:5], lines[5] + b"," + lines[6], *lines[7:]]))
    assert _error(ndjson).startswith("lb.ndjson line 6 (row 5): not valid JSON")


def test_a_cut_file_says_truncated(ndjson: Path, tmp_path: Path) -> None:
    raw = ndjson.read_bytes()
    ndjson.write_bytes(raw[:len(raw) // 2])
    assert "the file ends inside this line: truncated?" in _error(ndjson)
    ndjson.write_bytes(raw[:raw.index(b"\n") - 3])
    assert _error(ndjson).startswith("lb.ndjson line 1 (metadata): not valid JSON")
    ndjson.write_bytes(b"\n".join(raw.split(b"\n")[:101]) + b"\n")  # cut after a whole line: only records tells
    assert _error(ndjson) == ("lb.ndjson line 1 (metadata): 'records' says 300 but the file holds 100 rows "
                              "(lines 2-101): truncated file? Dataset-JSON's 'records' is the number of rows")


def test_a_cut_pretty_printed_json_names_line_and_column(tmp_path: Path) -> None:
    doc = tmp_path / "lb.json"
    write_dataset_json(pd.DataFrame({"A": ["x"] * 10}), "LB", doc, created=CREATED)
    doc.write_bytes(orjson.dumps(orjson.loads(doc.read_bytes()), option=orjson.OPT_INDENT_2)[:-40])
    message = _error(doc)
    assert re.match(r"lb\.json: not valid JSON \(.* at line \d+ column \d+\); the file ends before", message), message


@pytest.mark.parametrize(("records", "ok"), [
    (3, True), (3.0, True), (None, True),
    (2, False), (4, False), (0, False), ("3", False), (-3, False), (True, False), (3.5, False), ([3], False),
])
def test_records_is_the_number_of_rows(tmp_path: Path, records: object, ok: bool) -> None:
    doc = {"datasetJSONCreationDateTime": CREATED, "datasetJSONVersion": "1.1.0", "itemGroupOID": "IG.LB",
           "name": "LB", "label": "Lab", "records": records,
           "columns": [{"itemOID": "IT.LB.A", "name": "A", "label": "A", "dataType": "string"}],
           "rows": [["x"], ["y"], ["z"]]}
    if records is None:
        del doc["records"]  # required by the schema, but read; `validate` reports it
    for form in ("json", "ndjson"):
        path = tmp_path / f"lb.{form}"
        if form == "json":
            path.write_bytes(orjson.dumps(doc))
        else:
            head = {k: v for k, v in doc.items() if k != "rows"}
            path.write_bytes(b"\n".join(orjson.dumps(x) for x in [head, *doc["rows"]]) + b"\n")
        if ok:
            assert len(read_dataset_json(path)[1]) == 3
            continue
        message = _error(path)
        assert message.startswith(f"lb.{form}{' line 1 (metadata)' if form == 'ndjson' else ''}: 'records' ")
        if isinstance(records, int) and not isinstance(records, bool) and records >= 0:
            assert f"says {records} but the file holds 3 rows" in message
        else:
            assert "requires the number of rows" in message
