"""Fixtures for the FHIR tests, imported by the test modules (a conftest.py here would shadow tests/conftest.py)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from msc_interop.api import load_study
from msc_interop.fhir import write_fhir
from msc_interop.study import Study

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


# The test modules import these fixtures (a conftest.py here would shadow tests/conftest.py); pytest then makes
# one fixture per module, so the expensive work is cached here once per run.
@functools.cache
def _example() -> Study:
    study, _ = load_study(REPO / "fixtures" / "example_study")
    return study


@functools.cache
def _cdisc(shared: str) -> Study:
    from msc_interop.sdtm.formats import read_sdtm

    return read_sdtm(Path(shared) / "external" / "dataset-json" / "examples-v1.1" / "sdtm")


@functools.cache
def _written() -> dict[str, Path]:
    root = Path(tempfile.mkdtemp(prefix="msc_fhir_tests_"))
    atexit.register(shutil.rmtree, root, True)
    out = {}
    for version in ("R4", "R5"):
        folder = root / version
        result = write_fhir(_example(), folder, version=version, bundle="transaction", ndjson=True)
        assert result.valid, result.findings[:5]
        out[version] = folder
    return out


@pytest.fixture(scope="session")
def example() -> Study:
    return _example()


@pytest.fixture(scope="session")
def cdisc(shared_dir: Path) -> Study:
    return _cdisc(str(shared_dir))


@pytest.fixture(scope="session")
def written() -> dict[str, Path]:
    """The bundled study written once per version, as a transaction Bundle and as NDJSON (do not modify)."""
    return _written()


def assert_same(a: Study, b: Study,
                names: tuple[str, ...] = ("DM", "EX", "AE", "LB", "SUPPEX", "VS", "EG", "MH", "PR", "RE", "RELREC",
                                          "CM", "DS", "SV")) -> None:
    """Cell for cell, dtypes and column order included."""
    for name in names:
        if name not in a.datasets:
            continue
        assert name in b.datasets, f"{name} did not come back"
        pd.testing.assert_frame_equal(a[name], b[name], obj=name, check_exact=True)
