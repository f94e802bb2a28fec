"""Shared test fixtures: the bundled example study, editable copies of it, and the read-only ../shared data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

# every shared column code is checked against a fresh factorization in the tests (distinct._checked), in
# this process and in the CLI processes the tests start
os.environ["MSC_INTEROP_CHECK_SHARED"] = "1"

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "fixtures" / "example_study"


def shared_path() -> Path | None:
    """../shared beside the repository (or MSC_SHARED); None on a machine without it (a fresh clone)."""
    candidate = Path(os.environ.get("MSC_SHARED", REPO.parent / "shared"))
    return candidate if (candidate / "external").is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if path is None:
        pytest.skip("../shared/external (official schemas and CDISC examples) is not present on this machine")
    return path


@pytest.fixture
def example_dir() -> Path:
    return EXAMPLE


@pytest.fixture
def records_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy the example study records to a temp folder, optionally editing forms first.

    edit(form_name) -> callable(DataFrame) -> DataFrame; all cells are text.
    """

    def make(**edits: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
        target = tmp_path / "records"
        shutil.copytree(EXAMPLE, target)
        for form, fn in edits.items():
            path = target / f"{form}.csv"
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            fn(df).to_csv(path, index=False, lineterminator="\n")
        return target

    return make


def force_split_load(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """From now on every records folder is loaded in two processes (even on one core, and small:
    sdtm/load_in_two.py); the list returned hears whether each load's halves were joined (so a test can tell that
    the split load ran, not the one-process load it is compared with)."""
    from msc_interop.sdtm import load_in_two

    monkeypatch.setattr(load_in_two, "SPLIT_BYTES", 0)
    monkeypatch.setattr(load_in_two, "can_fork", lambda: True)
    monkeypatch.setattr(load_in_two, "core_free", lambda *a, **k: True)  # (the suite's other worker may be running)
    joins: list[bool] = []
    join = load_in_two.join_halves

    def counted(mine, theirs):  # type: ignore[no-untyped-def]
        joined = join(mine, theirs)
        joins.append(joined is not None)
        return joined

    monkeypatch.setattr(load_in_two, "join_halves", counted)
    return joins


def converted_three_ways(records: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """to-sdtm (CSV, no validation) of `records` whole, by subject partitions (4 subjects each: the example study's
    nine give 3) and in two processes (force_split_load), each into its own folder under `tmp_path`: the three
    results, after checking that each path did run (the halves joined, three partitions). For the notes and
    reports that must be the same however a study is loaded."""
    from msc_interop import api

    stamp = "2026-01-01T00:00:00"
    whole = api.to_sdtm(records, tmp_path / "whole", formats=("csv",), created=stamp, validate=False,
                        partition_subjects=0)
    parts = api.to_sdtm(records, tmp_path / "parts", formats=("csv",), created=stamp, validate=False,
                        partition_subjects=4)
    joins = force_split_load(monkeypatch)
    two = api.to_sdtm(records, tmp_path / "two", formats=("csv",), created=stamp, validate=False,
                      partition_subjects=0)
    assert joins == [True] and parts.partitions == 3
    return whole, parts, two


@pytest.fixture(scope="session")
def synth_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic study records of 20 subjects, every form (made once per session; copy it before changing it)."""
    from msc_interop import api

    folder = tmp_path_factory.mktemp("synth20") / "records"
    api.synth(folder, subjects=20, seed=5)
    return folder


@pytest.fixture(scope="session")
def cluster() -> Iterator[object]:
    """A 2-worker Dask LocalCluster (processes) for the `--engine dask` tests: started once per test process, as
    the tests of validate's and from-fhir's Dask engines share it (a start costs seconds)."""
    from msc_interop.engine.cluster import Cluster

    with Cluster(workers=2) as c:
        c.client()
        yield c
