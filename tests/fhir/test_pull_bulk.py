"""`msc-interop pull --bulk` against sekmet-fhir's Bulk Data $export on 127.0.0.1 (issue 16): kick-off, status
polls, NDJSON downloads, the job deleted after; the SDTM equals to-sdtm's and a REST pull's; --since-last-run
starts at the manifest's transactionTime and fetches only the change; a server without $export is a clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fhir_fixtures import assert_same
from test_pull import pull, sdtm, to_sdtm
from test_push import fhir_of, push, records, written

from msc_interop.server.state import read_pull_state
from servers.fhir_servers import medplum_available, sekmet_server, server


@pytest.fixture(scope="module")
def sekmet_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("bulk-sekmet")
    with sekmet_server(folder) as base:
        yield base, folder


def _jobs_left(folder: Path) -> list[Path]:
    """Export jobs whose files sekmet still keeps (its DELETE on the status URL removes them)."""
    root = folder / "data" / "bulk"
    return [p for p in root.iterdir()] if root.is_dir() else []


def test_bulk_pull_by_study_equals_to_sdtm_and_rest(sekmet_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, folder = sekmet_dir
    path = records(tmp_path, "study", "BULK-STUDY")
    assert push(base, fhir_of(tmp_path, path), tmp_path)[0] == 0
    other = records(tmp_path, "other", "BULK-OTHER")  # on the same server: must not come along
    assert push(base, fhir_of(tmp_path, other), tmp_path)[0] == 0
    code, out = pull(base, tmp_path / "bulk", tmp_path / "s1", "--study", "BULK-STUDY", "--bulk")
    assert code == 0, out
    n = sum(len(v) for v in written(tmp_path, path).values()) + sum(len(v) for v in written(tmp_path, other).values())
    assert f"of the {n} resources exported" in out  # both studies exported, one kept
    code, filtered = pull(base, tmp_path / "bulk-f", tmp_path / "s3", "--study", "BULK-STUDY", "--bulk",
                          "--bulk-type-filter")  # the server exports only the study's: nothing to drop
    assert code == 0 and "resources exported" not in filtered, filtered
    assert "Bulk $export: " in out and "status poll(s)" in out and "$export: " in out  # progress shown
    expect = written(tmp_path, path)
    got = {p.stem: [json.loads(x) for x in p.read_text().splitlines()]
           for p in (tmp_path / "bulk" / "fhir").glob("*.ndjson")}
    assert {t: sorted(r["id"] for r in v) for t, v in got.items()} == \
        {t: sorted(r["id"] for r in v) for t, v in expect.items()}
    assert_same(to_sdtm(tmp_path, path), sdtm(tmp_path / "bulk" / "sdtm"))
    code, rest_out = pull(base, tmp_path / "rest", tmp_path / "s2", "--study", "BULK-STUDY")
    assert code == 0, rest_out
    for p in (tmp_path / "rest" / "fhir").glob("*.ndjson"):  # the same files, byte for byte
        assert p.read_bytes() == (tmp_path / "bulk" / "fhir" / p.name).read_bytes(), p.name
    assert _jobs_left(folder) == []
    assert not list(tmp_path.glob(".*bulk-download"))  # the scratch folder is gone


def test_bulk_since_last_run_starts_at_transaction_time(sekmet_dir: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = sekmet_dir

    def bump(df: pd.DataFrame) -> pd.DataFrame:
        i = df.index[(df["subject_id"] == "01") & (df["test"] == "WBC")][0]
        df.loc[i, "result"] = f"{float(df.loc[i, 'result']) + 1:.2f}"
        return df

    study = "BULK-SINCE"
    path, changed = records(tmp_path, "study", study), records(tmp_path, "changed", study, labs=bump)
    assert push(base, fhir_of(tmp_path, path), tmp_path)[0] == 0
    code, out = pull(base, tmp_path / "pulled", tmp_path, "--study", study, "--bulk", "--since-last-run")
    assert code == 0 and "a full pull" in out, out
    state = read_pull_state(tmp_path, base, study)
    assert state is not None and state["server_time"].endswith("Z")  # the manifest's transactionTime
    assert push(base, fhir_of(tmp_path, changed), tmp_path)[0] == 0
    code, out = pull(base, tmp_path / "pulled", tmp_path, "--study", study, "--bulk", "--since-last-run")
    assert code == 0, out
    first = next(line for line in out.splitlines() if line.startswith("fetched"))
    assert first == f"fetched since {state['server_time']}: Observation 1"
    assert_same(to_sdtm(tmp_path, changed), sdtm(tmp_path / "pulled" / "sdtm"))


def test_bulk_pull_by_patients(sekmet_dir: tuple[str, Path], tmp_path: Path) -> None:
    """Patient/$export, kept to the listed patients; the study and laboratory they reference by REST."""
    base, _ = sekmet_dir
    path = records(tmp_path, "study", "BULK-PATIENTS")
    ids = [r["id"] for r in written(tmp_path, path)["Patient"]]
    (tmp_path / "patients.txt").write_text("\n".join(ids) + "\n")
    assert push(base, fhir_of(tmp_path, path), tmp_path)[0] == 0
    code, out = pull(base, tmp_path / "pulled", tmp_path, "--patients", str(tmp_path / "patients.txt"), "--bulk")
    assert code == 0, out
    assert_same(to_sdtm(tmp_path, path), sdtm(tmp_path / "pulled" / "sdtm"))


def test_server_without_bulk_export_is_a_clear_error(tmp_path: Path) -> None:
    if medplum_available():
        pytest.skip(medplum_available())
    with server("medplum", tmp_path) as base:
        code, out = pull(base, tmp_path / "pulled", tmp_path, "--study", "ANY", "--bulk")
    assert code == 2, out
    assert "$export kick-off answered" in out and "pull without --bulk" in out, out
    assert not (tmp_path / "pulled" / "sdtm").exists()
