"""Studies shared by the summary tests: the bundled study (from records and from the SDTM `to-sdtm` wrote) and
CDISC's pilot SDTM example, each built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_interop.api import load_study, to_sdtm
from msc_interop.summary import compute_tables

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "example_study"


@pytest.fixture(scope="session")
def example_study():
    study, rejects = load_study(EXAMPLE)
    assert len(rejects) == 0
    return study


@pytest.fixture(scope="session")
def example_tables(example_study):
    return compute_tables(example_study)


@pytest.fixture(scope="session")
def sdtm_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sdtm")
    to_sdtm(EXAMPLE, out, formats=["xpt", "json"], created="2026-01-01T00:00:00")
    return out


@pytest.fixture(scope="session")
def pilot_study(shared_dir):
    study, _ = load_study(shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm")
    return study


@pytest.fixture(scope="session")
def pilot_tables(pilot_study):
    return compute_tables(pilot_study)


def cell(table, where: dict, column: str) -> str:
    """The one cell of `column` in the row matching every (column, value) of `where`."""
    mask = None
    for k, v in where.items():
        m = table[k] == v
        mask = m if mask is None else mask & m
    rows = table.loc[mask, column]
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return rows.iloc[0]
