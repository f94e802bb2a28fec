"""Same numbers three ways: the summary from study records, from the SDTM `to-sdtm` wrote, and from the FHIR
`to-fhir` wrote (R4 and R5) must be identical, compared CSV by CSV (byte for byte).

Two tables also read study-level metadata (METADATA_TABLES: `study` shows title, protocol, indication;
`exposure_schedule` compares study days with the planned visit days). SDTM carries these in TS and TV, so from SDTM
every table must match. An input without them (SDTM lacking TV, as CDISC's pilot example) says "not recorded" /
"schedule unknown" there instead of guessing, and every other table is unchanged: pinned below.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from msc_interop.api import load_study
from msc_interop.summary import METADATA_TABLES, summarize
from msc_interop.summary.subjects import schedule_known


def _csvs(folder: Path) -> dict[str, bytes]:
    """The table CSVs, and the analysis results data (ard.csv, ard.json) when written: identical each way too."""
    out = {p.stem: p.read_bytes() for p in sorted((folder / "csv").glob("*.csv"))}
    for p in sorted((folder / "ard").glob("ard.*")):
        out[f"ARD {p.name}"] = p.read_bytes()
    return out


def ard_rows(name: str, data: bytes, drop: Callable[[dict], bool] = lambda r: False) -> list[dict]:
    """The rows of an ARD file (ard.csv or ard.json) as dicts, less those `drop` selects."""
    rows = (list(csv.DictReader(io.StringIO(data.decode("utf-8")))) if name.endswith(".csv")
            else json.loads(data))
    return [r for r in rows if not drop(r)]


@pytest.fixture(scope="module")
def from_records(example_study, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("sum-records")
    summarize(example_study, out, formats=["csv", "ard"])
    return _csvs(out)


def _assert_same(reference: dict[str, bytes], other: dict[str, bytes], source: str, *, metadata_known: bool):
    assert {"vs_stats", "vs_change", "lab_stats"} <= set(reference)  # the vital-sign tables are compared too
    assert sorted(other) == sorted(reference)
    for name in sorted(reference):
        if name in METADATA_TABLES and not metadata_known:
            continue
        if name.startswith("ARD ") and not metadata_known:  # the ARD rows of those tables may differ too
            def metadata(r: dict) -> bool:
                return r["table"] in METADATA_TABLES

            assert ard_rows(name, other[name], metadata) == ard_rows(name, reference[name], metadata), name
            continue
        assert other[name] == reference[name], f"{name}.csv differs between study records and {source}"


@pytest.mark.parametrize("fmt", ["xpt", "json"])
def test_summary_from_sdtm_equals_summary_from_records(fmt, sdtm_dir, from_records, tmp_path):
    study, _ = load_study(sdtm_dir / fmt)
    summarize(study, tmp_path, formats=["csv", "ard"])
    _assert_same(from_records, _csvs(tmp_path), f"SDTM {fmt}", metadata_known=True)


def test_sdtm_without_trial_visits_says_schedule_unknown(sdtm_dir, from_records, tmp_path):
    folder = tmp_path / "sdtm"
    shutil.copytree(sdtm_dir / "xpt", folder)
    (folder / "tv.xpt").unlink()  # no TV: no planned visit days
    (folder / "sv.xpt").unlink()  # nor SV, whose VISITDY states them too (issue 14)
    study, _ = load_study(folder)
    summarize(study, tmp_path / "sum", formats=["csv", "ard"])
    got = _csvs(tmp_path / "sum")
    _assert_same(from_records, got, "SDTM without TV", metadata_known=False)
    sched = pd.read_csv(io.BytesIO(got["exposure_schedule"]), dtype=str)
    assert set(sched["On schedule"]) == {"schedule unknown"}
    assert set(sched["Planned study day (window)"]) == {"schedule unknown"}
    assert b"not in the input" in got["study"]


def test_to_sdtm_output_folder_is_read_too(sdtm_dir, from_records, tmp_path):
    study, _ = load_study(sdtm_dir)  # the to-sdtm output folder itself (json preferred)
    summarize(study, tmp_path, formats=["csv", "ard"])
    _assert_same(from_records, _csvs(tmp_path), "the to-sdtm folder", metadata_known=True)


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_summary_from_fhir_equals_summary_from_records(version, example_study, from_records, tmp_path):
    from msc_interop import fhir

    out = tmp_path / f"fhir-{version}"
    fhir.write_fhir(example_study, out, version=version, bundle="collection", ndjson=False)
    paths = sorted(p for p in out.rglob("*") if p.suffix in (".json", ".ndjson"))
    study, rejects = fhir.read_fhir(paths)
    assert len(rejects) == 0
    summarize(study, tmp_path / "sum", formats=["csv", "ard"])
    # FHIR written by msc-interop carries TS/TV on the ResearchStudy, so the study definition (title, planned
    # visit days and windows) comes back and every table, the metadata ones included, must match
    assert schedule_known(study)
    _assert_same(from_records, _csvs(tmp_path / "sum"), f"FHIR {version}", metadata_known=True)


def test_summary_does_not_depend_on_row_order(example_study, from_records, tmp_path):
    """FHIR readers need not return rows in SDTM order: shuffled datasets give the same CSVs."""
    from msc_interop.study import Study

    shuffled = {n: df.sample(frac=1.0, random_state=7).reset_index(drop=True)
                for n, df in example_study.datasets.items()}
    study = Study(example_study.meta, shuffled)
    summarize(study, tmp_path, formats=["csv", "ard"])
    _assert_same(from_records, _csvs(tmp_path), "shuffled rows", metadata_known=True)
