"""Fixtures shared by the SDTM tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def pilot(shared_dir: Path) -> Path:
    """The original CDISC pilot package (SDTMIG 3.1.2, Define-XML 1.0, Windows-1252 text)."""
    path = shared_dir / "external" / "cdisc-pilot-original"
    if not path.is_dir():
        pytest.skip("the CDISC pilot package is not in ../shared/external")
    return path
