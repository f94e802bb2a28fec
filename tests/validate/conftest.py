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
