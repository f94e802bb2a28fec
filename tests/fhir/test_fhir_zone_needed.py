"""to-fhir from SDTM: local date-times need a zone that SDTM does not state (fhir/write.py check_zone_known).

A FHIR dateTime with a time must carry its UTC offset (R4/R5 datatypes); SDTM --DTC values are local clock times
and an SDTM package says nothing of where they were taken. Assuming UTC (as to-fhir did) wrote the example study's
2009-09-30T08:38 in Shanghai as 08:38+00:00: 8 hours late, silently."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.cli import main


def run_cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def sdtm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zone") / "sdtm"
    api.to_sdtm(EXAMPLE, out, formats=["csv"], validate=False, created="2026-01-01T00:00:00")
    return out / "csv"


def test_sdtm_with_times_and_no_zone_stops_before_writing(sdtm: Path, tmp_path: Path) -> None:
    res = run_cli("to-fhir", sdtm, "-o", tmp_path / "fhir")
    assert res.exit_code == 2, res.output
    flat = " ".join(res.output.split())
    assert "AE.AESTDTC holds times of day ('2009-03-28T09:52')" in flat and "give --timezone" in flat
    assert not (tmp_path / "fhir").exists()  # nothing written, not even a reject report


def test_the_zone_given_sets_each_offset(sdtm: Path, tmp_path: Path) -> None:
    res = run_cli("to-fhir", sdtm, "-o", tmp_path / "fhir", "--timezone", "Asia/Shanghai", "--no-validate")
    assert res.exit_code == 0, res.output
    bundle = orjson.loads((tmp_path / "fhir" / "bundle.json").read_bytes())
    lb = pd.read_csv(sdtm / "lb.csv", dtype=str, keep_default_na=False)
    first = lb.loc[lb.LBDTC.str.contains("T")].iloc[0]
    times = [e["resource"].get("effectiveDateTime") for e in bundle["entry"]
             if e["resource"]["resourceType"] == "Observation"]
    assert f"{first.LBDTC}:00+08:00" in times  # the clock time kept, Shanghai's offset stated
    assert not any(t and t.endswith("+00:00") for t in times)


def test_sdtm_with_dates_only_needs_no_zone(sdtm: Path, tmp_path: Path) -> None:
    dates_only = tmp_path / "sdtm"
    dates_only.mkdir()
    for name in ("dm.csv", "ts.csv"):
        df = pd.read_csv(sdtm / name, dtype=str, keep_default_na=False)
        for col in (c for c in df.columns if c.endswith("DTC")):
            df[col] = df[col].str[:10]
        df.to_csv(dates_only / name, index=False)
    res = run_cli("to-fhir", dates_only, "-o", tmp_path / "fhir", "--no-validate")
    assert res.exit_code == 0, res.output
