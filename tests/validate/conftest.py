"""Shared fixtures of the validate tests: the bundled study (as a Study and as to-sdtm output) and mutations."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE, REPO
from msc_interop import api
from msc_interop.study import Study
from msc_interop.validate import Finding, Report, validate_paths

FHIR_DATA = REPO / "tests" / "data" / "fhir"
CREATED = "2026-01-01T00:00:00"


@pytest.fixture(scope="session")
def example_study() -> Study:
    built, rejects = api.load_study(EXAMPLE)
    assert len(rejects) == 0
    return built


@pytest.fixture(scope="session")
def sdtm_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """to-sdtm output of the bundled study: xpt/, json/, ndjson/, csv/ (define.xml beside xpt and json)."""
    out = tmp_path_factory.mktemp("sdtm")
    api.to_sdtm(EXAMPLE, out, formats=["xpt", "json", "ndjson", "csv"], created=CREATED)
    return out


@pytest.fixture(scope="session")
def sdtm_output_report(sdtm_output: Path) -> Report:
    """validate_paths over the whole to-sdtm output (computed once; several tests read it)."""
    return validate_paths([sdtm_output])


# Findings the clean output of the bundled study has, each judged real rather than a validator defect, with the
# reason it is kept. Tests that assert "own output is clean" set exactly these aside (and assert they are there).
KNOWN_OWN_FINDINGS: dict[tuple[str, str, str], str] = {
    ("MSC-SDTM-040", "EX", "VISITNUM"): "EX keeps the visit of each dose (the records are per visit); VISITNUM is "
                                        "an Interventions class variable the SDTMIG 3.4 EX table does not list "
                                        "(P21 SD1076, as P21 reports it)",
    ("MSC-SDTM-040", "EX", "VISIT"): "as EX VISITNUM",
    ("MSC-SDTM-040", "MH", "MHPTCD"): "the MedDRA preferred-term code of MHDECOD; an Events class variable the "
                                     "SDTMIG 3.4 MH table does not list (P21 SD1076)",
    ("MSC-SDTM-040", "MH", "MHBDSYCD"): "the MedDRA SOC code of MHBODSYS; as MH MHPTCD",
}


def unexpected(findings: Iterable[Finding]) -> list[Finding]:
    """The findings other than KNOWN_OWN_FINDINGS."""
    return [f for f in findings if (f.rule_id, f.dataset_or_resource, f.variable_or_path) not in KNOWN_OWN_FINDINGS]


def mutate(study: Study, *, cells: Iterable[dict[str, Any]] = (), drop: dict[str, str] | None = None,
           copy_row: dict[str, Any] | None = None, add: dict[str, pd.DataFrame] | None = None) -> Study:
    """A changed copy of the study: set cells (row 1-based; value None = missing), drop a column, copy a row to
    the end, add datasets."""
    datasets = {name: study[name].copy() for name in study.names}
    for cell in cells:
        df = datasets[cell["dataset"]]
        col, value = cell["variable"], cell["value"]
        if value is None:
            value = "" if df[col].dtype == object else np.nan
        df.loc[cell["row"] - 1, col] = value
    if drop:
        datasets[drop["dataset"]] = datasets[drop["dataset"]].drop(columns=drop["variable"])
    if copy_row:
        name, row = copy_row["dataset"], copy_row["row"]
        datasets[name] = pd.concat([datasets[name], datasets[name].iloc[[row - 1]]], ignore_index=True)
    datasets.update(add or {})
    return Study(copy.deepcopy(study.meta), datasets)


def rule_ids(findings: Iterable[Finding]) -> set[str]:
    return {f.rule_id for f in findings}
