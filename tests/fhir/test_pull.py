"""`msc-interop pull` against real FHIR servers on 127.0.0.1: push a study, pull it back by study tag or by
patients (every search page followed: `next` links on sekmet, `_offset` on Medplum's router, which gives
none), and the SDTM equals to-sdtm's; --since-last-run fetches only what changed and still gives the SDTM of
a full pull (issue 16)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fhir_fixtures import assert_same
from test_push import count, fhir_of, push, records, written

from msc_interop.cli import main
from msc_interop.inputs.load import load_study
from msc_interop.study import Study
from servers.fhir_servers import server

KINDS = ["sekmet", "medplum"]


@pytest.fixture(scope="module", params=KINDS)
def any_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server(request.param, tmp_path_factory.mktemp(f"pull-{request.param}")) as base:
        yield base


def pull(base: str, out: Path, state: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["pull", "--server", base, "-o", str(out), "--state-dir", str(state),
                                    "--format", "json", "--no-define", *extra])
    return res.exit_code, res.output


def sdtm(folder: Path) -> Study:
    return load_study(folder / "json")[0]


def to_sdtm(tmp_path: Path, path: Path) -> Study:
    out = tmp_path / f"sdtm-{path.name}"
    res = CliRunner().invoke(main, ["to-sdtm", str(path), "-o", str(out), "--format", "json", "--no-define"])
    assert res.exit_code == 0, res.output
    return sdtm(out)


def same_sdtm(base: str, expected: Study, got: Study) -> None:
    """assert_same, cell for cell. Medplum's router (JavaScript numbers) does not keep a decimal's precision:
    it gives back 4 for 4.0, so LBORRES "4.0" comes back "4" (FHIR requires the precision kept; sekmet
    keeps it; 0.60 and 5.00 come back whole, the reader restores those digits from elsewhere). There, and
    only for LBORRES, the values must be equal as numbers, and the rows that differ must be whole numbers
    written with decimal zeros (2 of them in this data)."""
    if base.endswith("/fhir/R4"):  # Medplum (tests/servers/medplum)
        a, b = expected["LB"]["LBORRES"].astype(str), got["LB"]["LBORRES"].astype(str)
        differ = a != b
        assert (pd.to_numeric(a[differ]) == pd.to_numeric(b[differ])).all()
        assert a[differ].str.fullmatch(r"-?\d+\.0+").all() and 0 < differ.sum() <= 3
        got = Study(got.meta, {**got.datasets, "LB": got["LB"].assign(LBORRES=expected["LB"]["LBORRES"])})
    assert_same(expected, got)


def test_pull_by_study_gives_to_sdtm_s_sdtm(any_server: str, tmp_path: Path) -> None:
    study = "PULL-STUDY"
    path = records(tmp_path, "study", study)
    assert push(any_server, fhir_of(tmp_path, path), tmp_path)[0] == 0
    code, out = pull(any_server, tmp_path / "pulled", tmp_path, "--study", study, "--page-size", "20")
    assert code == 0, out
    expect = written(tmp_path, path)
    assert f"Observation {count(expect, 'Observation')}" in out
    got = [json.loads(x) for x in (tmp_path / "pulled" / "fhir" / "Observation.ndjson").read_text().splitlines()]
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in expect["Observation"])
    same_sdtm(any_server, to_sdtm(tmp_path, path), sdtm(tmp_path / "pulled" / "sdtm"))
    # the same pull converted a range of subjects at a time (what keeps a big study's pull flat): the same SDTM
    code, out = pull(any_server, tmp_path / "cut", tmp_path / "cut-state", "--study", study, "--page-size", "50",
                     "--partition-subjects", "1")
    assert code == 0, out
    assert "converted in 2 subject partitions" in out  # 2 subjects, 1 a partition
    same_sdtm(any_server, to_sdtm(tmp_path, path), sdtm(tmp_path / "cut" / "sdtm"))


def test_pull_by_patients(tmp_path: Path) -> None:
    """By patient compartment, with another study on the server that must not come along; on Medplum only
    (it passed on sekmet too while this was written; one server keeps the suite short)."""
    study = "PULL-PATIENTS"
    path = records(tmp_path, "study", study)
    ids = [r["id"] for r in written(tmp_path, path)["Patient"]]
    (tmp_path / "patients.txt").write_text("# the study's patients\n" + "\n".join(ids) + "\n")
    with server("medplum", tmp_path) as base:
        assert push(base, fhir_of(tmp_path, path), tmp_path)[0] == 0
        assert push(base, fhir_of(tmp_path, records(tmp_path, "other", "PULL-OTHER")), tmp_path)[0] == 0
        code, out = pull(base, tmp_path / "pulled", tmp_path, "--patients", str(tmp_path / "patients.txt"))
        assert code == 0, out
        same_sdtm(base, to_sdtm(tmp_path, path), sdtm(tmp_path / "pulled" / "sdtm"))


def test_since_last_run_fetches_only_the_change(any_server: str, tmp_path: Path) -> None:
    def bump(df: pd.DataFrame) -> pd.DataFrame:
        i = df.index[(df["subject_id"] == "01") & (df["test"] == "WBC")][0]
        df.loc[i, "result"] = f"{float(df.loc[i, 'result']) + 1:.2f}"
        return df

    study = "PULL-SINCE"
    path = records(tmp_path, "study", study)
    changed = records(tmp_path, "changed", study, labs=bump)
    assert push(any_server, fhir_of(tmp_path, path), tmp_path)[0] == 0
    # Medplum's router gives no searchset time: the pull starts from its Date header (whole seconds) less 1 s,
    # up to 2 s before the pull; what changed in that window is fetched again (harmless, merged by id)
    time.sleep(2.5)
    code, out = pull(any_server, tmp_path / "pulled", tmp_path, "--study", study, "--since-last-run")
    assert code == 0 and "a full pull" in out, out
    assert push(any_server, fhir_of(tmp_path, changed), tmp_path)[0] == 0
    code, out = pull(any_server, tmp_path / "pulled", tmp_path, "--study", study, "--since-last-run")
    assert code == 0, out
    assert "fetched since " in out and "Observation 1" in out and "Patient" not in out.split("\n")[0]
    code, full_out = pull(any_server, tmp_path / "full", tmp_path / "other-state", "--study", study)
    assert code == 0, full_out
    assert_same(sdtm(tmp_path / "full" / "sdtm"), sdtm(tmp_path / "pulled" / "sdtm"))
    same_sdtm(any_server, to_sdtm(tmp_path, changed), sdtm(tmp_path / "pulled" / "sdtm"))


def test_pull_needs_a_study_or_patients(tmp_path: Path) -> None:
    code, out = pull("http://127.0.0.1:9", tmp_path / "o", tmp_path)
    assert code == 2 and "--study ID or --patients FILE" in out
