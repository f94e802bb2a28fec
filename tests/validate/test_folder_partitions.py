"""`validate` of an SDTM folder a range of subjects at a time (validate/folder_partitions.py) gives the findings of
the whole read, every field (rule, severity, file, dataset, row, USUBJID, --SEQ, variable, value, message) in the
same order: on the bundled study's to-sdtm output in each format, on the same with seeded defects in an LB
whose rows are shuffled (not grouped by subject), and on CDISC's pilot package with define.xml 1.0. Every big
file is read in chunks of a few dozen rows and the partitions hold 1-3 subjects, so many of both exist; each
test also checks that the ranges were really used (not read whole after declining)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.sdtm import json_rows
from msc_interop.sdtm.formats import FORMATS, read_sdtm
from msc_interop.validate import Finding, validate_paths
from msc_interop.validate.folder_partitions import FolderPartitions, check_per_partition

from .conftest import CREATED

FORMATS_OUT = ["xpt", "json", "ndjson", "csv"]


def _rows(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [tuple(f.as_dict().values()) for f in findings]


def assert_same(folder: Path, per: int, hold_bytes: int = 0, chunk_rows: int = 97) -> list[Finding]:
    """The partitioned findings equal the whole read's; the folder went by ranges (several of them)."""
    whole = validate_paths([folder]).findings
    ranges = FolderPartitions(per, 0, hold_bytes=hold_bytes, chunk_rows=chunk_rows)
    parts = validate_paths([folder], sdtm_partitions=ranges).findings
    assert ranges.declined == []
    assert ranges.used and all(n > 1 for _, n in ranges.used)
    assert _rows(parts) == _rows(whole)
    return whole


@pytest.mark.parametrize("fmt, per", [("xpt", 1), ("json", 2), ("ndjson", 3), ("csv", 2)])
def test_output_folder(sdtm_output: Path, fmt: str, per: int) -> None:
    whole = assert_same(sdtm_output / fmt, per)
    assert {f.rule_id for f in whole} == {"MSC-SDTM-040"}  # the bundled study's known findings only


@pytest.mark.parametrize("fmt", FORMATS_OUT)
def test_seeded_defects_in_a_shuffled_lb(sdtm_output: Path, tmp_path: Path, fmt: str) -> None:
    """LB with a repeated LBSEQ (rows 5 and 6 of a subject), LBTESTCD blank (row 11), LBDTC 2024-13-45 (row 21),
    LBORRESU FURLONGS in 3 rows (not in define.xml's CL.UNIT: counted over the whole LB, not its proxy) and a
    row of a subject not in DM, then its rows shuffled: each finding at the row where the defect went."""
    folder = tmp_path / fmt
    shutil.copytree(sdtm_output / fmt, folder)
    study = read_sdtm(folder)
    lb = study["LB"].copy()
    assert lb.loc[4, "USUBJID"] == lb.loc[5, "USUBJID"]
    lb.loc[5, "LBSEQ"] = lb.loc[4, "LBSEQ"]
    lb.loc[10, "LBTESTCD"] = ""
    lb.loc[20, "LBDTC"] = "2024-13-45"
    lb.loc[[30, 31, 40], "LBORRESU"] = "FURLONGS"
    stranger = lb.iloc[[0]].assign(USUBJID="ZZ-UNKNOWN")
    lb = pd.concat([lb, stranger], ignore_index=True)
    order = np.random.default_rng(7).permutation(len(lb))
    FORMATS[fmt].writer(lb.iloc[order].reset_index(drop=True), "LB", next(folder.glob("lb.*")), study.meta,
                        CREATED)
    whole = assert_same(folder, 2)

    def at(original: int) -> int:  # 1-based row in the shuffled LB of 0-based row `original` before
        return int(np.flatnonzero(order == original)[0]) + 1

    found = {(f.rule_id, f.row_or_entry) for f in whole if f.dataset_or_resource == "LB"}
    assert {("MSC-SDTM-010", at(4)), ("MSC-SDTM-010", at(5)), ("MSC-SDTM-002", at(10)),
            ("MSC-SDTM-006", at(20)), ("MSC-SDTM-011", at(len(lb) - 1))} <= found
    if (folder / "define.xml").is_file():
        first = min(at(30), at(31), at(40))
        assert [f.message for f in whole if f.rule_id == "MSC-DEF-007"] == [
            f"LB.LBORRESU 'FURLONGS' is not in define.xml CodeList CL.UNIT (3 record(s), first at row {first})"]


def test_cdisc_pilot(shared_dir: Path) -> None:
    """CDISC's pilot (define.xml 1.0; define findings at rows of the big datasets, codelist counts): files over
    25 kB in ranges (ts.xpt, Windows-1252, is held), 50 subjects a partition."""
    whole = assert_same(shared_dir / "external" / "cdisc-pilot-original", 50, hold_bytes=25_000, chunk_rows=700)
    assert len(whole) > 1000
    assert any(f.rule_id == "MSC-DEF-005" and f.dataset_or_resource == "CM" and f.row_or_entry == 41
               for f in whole)  # CMDOSE 0.625, the 41st CM row: a proxy row placed back in the whole


def test_cdisc_dataset_json_examples(shared_dir: Path) -> None:
    """CDISC's Dataset-JSON 1.1 examples: the same datasets as XPT, Dataset-JSON and NDJSON in one folder with
    define.xml 2.1, each format by ranges of 6 subjects."""
    whole = assert_same(shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm", 6, chunk_rows=50)
    assert {f.file.rsplit(".", 1)[-1] for f in whole} >= {"xpt", "json", "ndjson"}


def test_a_big_file_not_in_utf8_makes_the_folder_read_whole(shared_dir: Path) -> None:
    folder = shared_dir / "external" / "cdisc-pilot-original"
    ranges = FolderPartitions(50, 0, hold_bytes=0, chunk_rows=700)
    parts = validate_paths([folder], sdtm_partitions=ranges).findings
    assert ranges.used == [] and len(ranges.declined) == 1 and "ts.xpt" in ranges.declined[0][1]
    assert _rows(parts) == _rows(validate_paths([folder]).findings)
    assert any("read whole" in line for line in ranges.notes())


def test_a_bad_row_makes_the_folder_read_whole(sdtm_output: Path, tmp_path: Path) -> None:
    """An NDJSON row of the wrong length: the whole read names it (MSC-DJSON-003); the ranges decline."""
    folder = tmp_path / "ndjson"
    shutil.copytree(sdtm_output / "ndjson", folder)
    lines = (folder / "lb.ndjson").read_bytes().split(b"\n")
    lines[7] = orjson.dumps(orjson.loads(lines[7])[:-1])
    (folder / "lb.ndjson").write_bytes(b"\n".join(lines))
    ranges = FolderPartitions(2, 0, hold_bytes=0, chunk_rows=50)
    parts = validate_paths([folder], sdtm_partitions=ranges).findings
    whole = validate_paths([folder]).findings
    assert ranges.used == [] and "lb.ndjson" in ranges.declined[0][1]
    assert _rows(parts) == _rows(whole)
    assert any(f.rule_id == "MSC-DJSON-003" and f.row_or_entry == 7 for f in whole)


@pytest.mark.parametrize("ndjson, indent", [(False, False), (False, True), (True, False)])
def test_row_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ndjson: bool, indent: bool) -> None:
    """Rows are found by bytes alone, in blocks of 7 bytes here: brackets, quotes and backslashes inside text
    do not cut a row; a range parses to exactly its rows."""
    monkeypatch.setattr(json_rows, "_BLOCK", 7)
    header = {"datasetJSONVersion": "1.1.0", "name": "LB", "records": 5,
              "columns": [{"itemOID": "IT.A", "name": "A", "dataType": "string"}]}
    rows = [["a[b]"], ['q\\"],["'], ["x\\\\"], [None], ["{}"]]
    path = tmp_path / ("lb.ndjson" if ndjson else "lb.json")
    if ndjson:
        path.write_bytes(orjson.dumps(header) + b"\n" + b"\n\n".join(map(orjson.dumps, rows)) + b"\n")
    else:
        path.write_bytes(orjson.dumps({**header, "rows": rows}, option=orjson.OPT_INDENT_2 if indent else 0))
    index = json_rows.index_rows(path, ndjson)
    assert index.header == header and len(index) == 5
    assert index.rows(0, 5) == rows and index.rows(1, 3) == rows[1:3] and index.rows(4, 5) == rows[4:]


def test_a_row_that_is_not_an_array_is_not_indexed(tmp_path: Path) -> None:
    path = tmp_path / "lb.json"
    path.write_bytes(orjson.dumps({"name": "LB", "columns": [], "rows": [["a"], {"b": 1}]}))
    with pytest.raises(json_rows.NotIndexable):
        json_rows.index_rows(path, False)


def test_option_values() -> None:
    assert [check_per_partition(v) for v in ("auto", "ON", "off", "25", 0, 7)] == ["auto", "on", 0, 25, 0, 7]
    with pytest.raises(Exception, match="--partition-subjects"):
        check_per_partition("some")


def test_cli(sdtm_output: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["validate", str(sdtm_output / "xpt"), "--partition-subjects", "many"])
    assert bad.exit_code == 2 and "--partition-subjects" in bad.output
    off = runner.invoke(main, ["validate", str(sdtm_output / "xpt"), "--partition-subjects", "off"])
    on = runner.invoke(main, ["validate", str(sdtm_output / "xpt"), "--partition-subjects", "on"])
    assert on.exit_code == off.exit_code == 0
    assert "validated in 1 subject partition" in on.stderr and "partition" not in off.stderr
