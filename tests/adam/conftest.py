"""ADaM written once per session: from the bundled study's records and from CDISC's pilot SDTM package."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_interop.api import to_adam

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "example_study"
XSD = Path("external/xsd/define-xml-2.1/cdisc-definexml-2.1.0/define2-1-0.xsd")
CREATED = "2026-01-01T00:00:00"


@pytest.fixture(scope="session")
def adam_example(tmp_path_factory):
    out = tmp_path_factory.mktemp("adam-example")
    return out, to_adam([EXAMPLE], out, created=CREATED)


@pytest.fixture(scope="session")
def pilot_dir(shared_dir) -> Path:
    return shared_dir / "external" / "cdisc-pilot-original"


@pytest.fixture(scope="session")
def adam_pilot(pilot_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("adam-pilot")
    return out, to_adam([pilot_dir], out, created=CREATED)
