"""`msc-interop push` against real FHIR servers on 127.0.0.1 (sekmet-fhir; Medplum's FHIR router when node is
installed): reloads are safe (unchanged resources are not rewritten, removed ones pruned, changed ones
updated once), a server saying "later" is waited for, an interrupted push resumes, a refused resource fails
alone with its OperationOutcome, and the token never shows (issue 16)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.server.push import WRITTEN_TYPES
from msc_interop.server.tags import systems
from servers.fhir_servers import FlakyProxy, request, search_all, sekmet_server, server

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "example_study"
KINDS = ["sekmet", "medplum"]
# Two subjects of the example study (04 has the adverse event): ~140 resources, 3 chunks of 50.
SUBJECTS = ("01", "04")
FORMS = ("subjects", "labs", "adverse_events", "exposures", "findings", "medical_history", "medications", "disposition")


def records(tmp_path: Path, name: str, studyid: str, **edits: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """The example study cut to SUBJECTS under tmp_path/name, as study `studyid` (so that tests sharing a
    server do not see each other's resources), forms edited (all cells text)."""
    target = tmp_path / name
    shutil.copytree(EXAMPLE, target)
    (target / "vital_signs.csv").unlink(missing_ok=True)  # push/pull counts are the lab study's (VS: not checked)
    yaml_path = target / "study.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("studyid: MSC-SLE-2009", f"studyid: {studyid}", 1))
    for form in FORMS:
        df = pd.read_csv(target / f"{form}.csv", dtype=str, keep_default_na=False)
        df = df[df["subject_id"].isin(SUBJECTS)]
        if form in edits:
            df = edits[form](df)
        df.to_csv(target / f"{form}.csv", index=False, lineterminator="\n")
    # these tests count lab, AE and EX resources (EG's are tested in tests/fhir/test_fhir_ecg.py, test_fhir_roundtrip)
    (target / "ecg.csv").unlink(missing_ok=True)
    return target


def fhir_of(tmp_path: Path, path: Path) -> Path:
    """to-fhir's NDJSON of the records at `path` (made once): most tests push these FHIR files, so that each
    push does not convert the records again (one test per server pushes the records themselves)."""
    out = tmp_path / f"tofhir-{path.name}"
    if not out.exists():
        res = CliRunner().invoke(main, ["to-fhir", str(path), "-o", str(out), "--bundle", "none", "--ndjson",
                                        "--no-validate"])
        assert res.exit_code == 0, res.output
    return out


def written(tmp_path: Path, path: Path) -> dict[str, list[dict[str, Any]]]:
    """The resources to-fhir writes for `path`, per type (what the server must hold after a push)."""
    out = fhir_of(tmp_path, path)
    return {p.stem: [json.loads(line) for line in p.read_text().splitlines()] for p in out.glob("*.ndjson")}


def count(resources: dict[str, list[dict[str, Any]]], rtype: str | None = None) -> int:
    return sum(len(v) for k, v in resources.items() if rtype in (None, k))


def push(base: str, path: Path, state: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    """(exit code, output, JSON report) of one push."""
    report = state / "report.json"
    report.unlink(missing_ok=True)
    res = CliRunner().invoke(main, ["push", str(path), "--server", base, "--state-dir", str(state),
                                    "--report", str(report), *extra])
    return res.exit_code, res.output, json.loads(report.read_text()) if report.exists() else {}


def total(report: dict[str, Any], outcome: str, rtype: str | None = None) -> int:
    rows = report["counts"].values() if rtype is None else [report["counts"].get(rtype, {outcome: 0})]
    return sum(r[outcome] for r in rows)


def held(base: str, rtype: str, studyid: str, query: str = "") -> list[dict[str, Any]]:
    """The study's resources of `rtype` on the server (by its study tag)."""
    return search_all(base, f"{rtype}?_tag={systems()['study']}|{studyid}{query}")


def versions(base: str, rtype: str, studyid: str) -> dict[str, str]:
    return {r["id"]: r["meta"]["versionId"] for r in held(base, rtype, studyid)}


@pytest.fixture(scope="module", params=KINDS)
def any_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server of each kind for the module; each test pushes its own study to it."""
    with server(request.param, tmp_path_factory.mktemp(request.param)) as base:
        yield base


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sekmet_server(tmp_path_factory.mktemp("sekmet")) as base:
        yield base


def _wbc_rows(df: pd.DataFrame) -> pd.Index:
    return df.index[(df["subject_id"] == "01") & (df["test"] == "WBC")]


def test_reload_sends_nothing_and_keeps_versions(any_server: str, tmp_path: Path) -> None:
    base, study = any_server, "PUSH-RELOAD"
    path = records(tmp_path, "study", study)
    expect = written(tmp_path, path)
    code, out, first = push(base, path, tmp_path)
    assert code == 0, out
    assert total(first, "created") == count(expect) and total(first, "created", "Observation") \
        == count(expect, "Observation") > 100
    assert first["provenance"] and first["failures"] == []
    assert "Observation" in out and "created" in out
    before = versions(base, "Observation", study)
    assert set(before) == {r["id"] for r in expect["Observation"]}
    obs = held(base, "Observation", study)[0]
    tag_codes = {t["system"]: t["code"] for t in obs["meta"]["tag"]}
    assert tag_codes[systems()["study"]] == study and len(tag_codes[systems()["content_hash"]]) == 64
    code, out, again = push(base, path, tmp_path)
    assert code == 0, out
    assert total(again, "unchanged") == count(expect) and total(again, "created") + total(again, "updated") == 0
    assert again["provenance"] is None  # nothing changed: no Provenance
    assert versions(base, "Observation", study) == before
    provs = held(base, "Provenance", study)
    assert len(provs) == 1 and provs[0]["entity"][0]["what"]["identifier"]["system"] == systems()["provenance_file"]
    assert "msc-interop" in provs[0]["agent"][0]["who"]["display"]


def test_removed_lab_row_is_pruned_and_nothing_moves(any_server: str, tmp_path: Path) -> None:
    """One WBC result of subject 01 removed: with --prune the server holds exactly the input's Observations
    (the issue's failure: ids from LBSEQ left 5 WBC results for a subject with 4)."""
    base, study = any_server, "PUSH-PRUNE"
    full = records(tmp_path, "full", study)
    fewer = records(tmp_path, "fewer", study, labs=lambda df: df.drop(index=_wbc_rows(df)[1]))
    assert push(base, fhir_of(tmp_path, full), tmp_path)[0] == 0
    code, out, rep = push(base, fhir_of(tmp_path, fewer), tmp_path, "--prune")
    assert code == 0, out
    assert total(rep, "deleted", "Observation") == 1 and total(rep, "deleted") == 1
    assert total(rep, "created") == 0
    on_server = held(base, "Observation", study)
    assert {r["id"] for r in on_server} == {r["id"] for r in written(tmp_path, fewer)["Observation"]}
    wbc = [r for r in on_server if r["subject"]["reference"].endswith("-01")
           and any(c.get("code") == "WBC" for c in r["code"]["coding"])]
    assert len(wbc) == len(_wbc_rows(pd.read_csv(fewer / "labs.csv", dtype=str, keep_default_na=False)))


def test_changed_value_is_one_update(any_server: str, tmp_path: Path) -> None:
    def bump(df: pd.DataFrame) -> pd.DataFrame:
        i = _wbc_rows(df)[0]
        df.loc[i, "result"] = f"{float(df.loc[i, 'result']) + 1:.2f}"
        return df

    base, study = any_server, "PUSH-CHANGE"
    path = records(tmp_path, "study", study)
    changed = records(tmp_path, "changed", study, labs=bump)
    assert push(base, fhir_of(tmp_path, path), tmp_path)[0] == 0
    before = versions(base, "Observation", study)
    code, out, rep = push(base, fhir_of(tmp_path, changed), tmp_path)
    assert code == 0, out
    assert total(rep, "updated") == 1 and total(rep, "updated", "Observation") == 1
    assert total(rep, "unchanged") == count(written(tmp_path, path)) - 1 and total(rep, "created") == 0
    after = versions(base, "Observation", study)
    assert set(after) == set(before) and sum(before[i] != after[i] for i in before) == 1


def test_subject_added(sekmet: str, tmp_path: Path) -> None:
    def add_subject(df: pd.DataFrame) -> pd.DataFrame:
        row = df[df["subject_id"] == "04"].copy()
        row["subject_id"] = "10"
        return pd.concat([df, row], ignore_index=True)

    study = "PUSH-ADD"
    path = records(tmp_path, "study", study)
    more = records(tmp_path, "more", study, subjects=add_subject, labs=add_subject)
    assert push(sekmet, fhir_of(tmp_path, path), tmp_path)[0] == 0
    code, out, rep = push(sekmet, fhir_of(tmp_path, more), tmp_path)
    assert code == 0, out
    before, after = count(written(tmp_path, path), "Observation"), count(written(tmp_path, more), "Observation")
    assert total(rep, "created", "Patient") == 1 and total(rep, "created", "ResearchSubject") == 1
    assert total(rep, "created", "Observation") == after - before > 0
    assert total(rep, "unchanged", "Observation") == before and total(rep, "updated", "Observation") == 0
    assert len(held(sekmet, "Observation", study)) == after


def test_interrupted_push_resumes_without_duplicates(sekmet: str, tmp_path: Path) -> None:
    """The server stops answering (503 to every request after the metadata, one search per type to-fhir writes
    and 2 chunks): exit 2 naming the checkpoint; run again once it answers: the push finishes, the report counts
    what the first run sent, no duplicates."""
    study = "PUSH-RESUME"
    path = records(tmp_path, "study", study)
    n = count(written(tmp_path, path))
    first_refused = 1 + len(WRITTEN_TYPES) + 2 + 1
    with FlakyProxy(sekmet, status=503, first=first_refused, count=None, retry_after="0") as proxy:
        code, out, partial = push(proxy.base, fhir_of(tmp_path, path), tmp_path, "--retries", "1")
        assert code == 2, out
        assert "resume" in out and partial["interrupted"]
        assert total(partial, "created") == 100
        assert list(tmp_path.glob("push-checkpoint-*.json"))
        proxy.first = 10 ** 9  # the server answers again
        code, out, rep = push(proxy.base, fhir_of(tmp_path, path), tmp_path)
    assert code == 0, out
    assert rep["resumed"] == 100 and total(rep, "created") == n
    assert "resumed: 100" in out
    assert len(held(sekmet, "Observation", study)) == count(written(tmp_path, path), "Observation")
    assert not list(tmp_path.glob("push-checkpoint-*.json"))


@pytest.mark.parametrize("status", [503, 429])
def test_server_saying_later_is_waited_for(sekmet: str, status: int, tmp_path: Path) -> None:
    study = f"PUSH-LATER-{status}"
    path = records(tmp_path, "study", study)
    with FlakyProxy(sekmet, status=status, first=2, count=3, retry_after="1") as proxy:
        code, out, rep = push(proxy.base, fhir_of(tmp_path, path), tmp_path)
    assert code == 0, out
    assert proxy.refused == 3 and rep["retried"] == 3
    assert total(rep, "created") == count(written(tmp_path, path))
    assert len(held(sekmet, "Observation", study)) == count(written(tmp_path, path), "Observation")


def test_refused_resource_fails_alone_with_its_outcome(sekmet: str, tmp_path: Path) -> None:
    """One Observation the server refuses (a string for a decimal): reported with the server's
    OperationOutcome, every other resource loaded, exit 1."""
    study = "PUSH-REFUSED"
    path = records(tmp_path, "study", study)
    fhir = tmp_path / "fhir"
    res = CliRunner().invoke(main, ["to-fhir", str(path), "-o", str(fhir), "--bundle", "none", "--ndjson"])
    assert res.exit_code == 0, res.output
    lines = (fhir / "Observation.ndjson").read_text().splitlines()
    bad = json.loads(lines[7])
    bad["valueQuantity"]["value"] = "six"  # a string where FHIR has a decimal
    lines[7] = json.dumps(bad)
    (fhir / "Observation.ndjson").write_text("\n".join(lines) + "\n")
    for name in ("rejects.csv", "rejects.json"):
        (fhir / name).unlink()
    code, out, rep = push(sekmet, fhir, tmp_path)
    assert code == 1, out
    n = sum(len(p.read_text().splitlines()) for p in fhir.glob("*.ndjson"))
    assert total(rep, "failed") == 1 and total(rep, "created") == n - 1
    failure = rep["failures"][0]
    assert failure["resource"] == f"Observation/{bad['id']}" and failure["status"].startswith("4")
    assert failure["outcome"]["resourceType"] == "OperationOutcome"
    assert f"failed Observation/{bad['id']}" in out
    assert len(held(sekmet, "Observation", study)) == len(lines) - 1


def test_token_is_sent_but_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = "s3cret-token-7f1c9a"
    (tmp_path / "token.txt").write_text(token + "\n")
    (tmp_path / "wrong.txt").write_text("wrong-token-0000\n")
    path = records(tmp_path, "study", "PUSH-TOKEN")
    caplog.set_level(logging.DEBUG)
    with sekmet_server(tmp_path, tokens=[token]) as base, FlakyProxy(base, count=0) as proxy:
        code, out, rep = push(proxy.base, fhir_of(tmp_path, path), tmp_path,
                              "--token-file", str(tmp_path / "token.txt"))
        assert code == 0, out
        assert proxy.authorization and set(proxy.authorization) == {f"Bearer {token}"}
        assert status_of(base, token) == 200 and status_of(base, None) == 401
        code, wrong_out, _ = push(base, fhir_of(tmp_path, path), tmp_path,
                                  "--token-file", str(tmp_path / "wrong.txt"))
        assert code == 2 and "refused the credentials (401" in wrong_out
        logs = caplog.text + out + wrong_out + json.dumps(rep) + (tmp_path / "server.log").read_text()
    assert token not in logs and "wrong-token-0000" not in logs
    assert "msc_interop.server" in caplog.text  # the requests were logged (without the token)


def status_of(base: str, token: str | None) -> int:
    return request(f"{base}/Patient?_count=1", token=token)[0]


def test_dry_run_sends_nothing_and_medplum_transaction_limit(tmp_path: Path) -> None:
    """--dry-run: the counts, nothing on the server. --batch-size 60 on Medplum: its transactions take at
    most 50 updates, so the refused transaction is sent again as a batch and everything loads."""
    study = "PUSH-MEDPLUM"
    path = records(tmp_path, "study", study)
    n = count(written(tmp_path, path))
    with server("medplum", tmp_path) as base:
        code, out, rep = push(base, fhir_of(tmp_path, path), tmp_path, "--dry-run")
        assert code == 0 and rep["dry_run"] and total(rep, "created") == n
        assert "nothing was sent" in out and held(base, "Observation", study) == []
        code, out, rep = push(base, fhir_of(tmp_path, path), tmp_path, "--batch-size", "60")
        assert code == 0, out
        assert total(rep, "created") == n
        assert any("more update operations than allowed" in note for note in rep["notes"])
        assert len(held(base, "Observation", study)) == count(written(tmp_path, path), "Observation")
