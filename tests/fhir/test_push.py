"""`msc-interop push` against real FHIR servers on 127.0.0.1 (sekmet-fhir; Medplum's FHIR router when node is
installed): reloads are safe (unchanged resources are not rewritten, removed ones pruned, changed ones
updated once), a server saying "later" is waited for, an interrupted push resumes, a refused resource fails
alone with its OperationOutcome, and the token never shows (issue 16)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.server.tags import systems
from servers.fhir_servers import FlakyProxy, request, search_all, sekmet_server, server

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "example_study"
KINDS = ["sekmet", "medplum"]


def records(tmp_path: Path, name: str, **edits: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """A copy of the example study's records under tmp_path/name, forms edited (all cells text)."""
    target = tmp_path / name
    shutil.copytree(EXAMPLE, target)
    for form, fn in edits.items():
        df = pd.read_csv(target / f"{form}.csv", dtype=str, keep_default_na=False)
        fn(df).to_csv(target / f"{form}.csv", index=False, lineterminator="\n")
    return target


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


def versions(base: str, rtype: str) -> dict[str, str]:
    return {r["id"]: r["meta"]["versionId"] for r in search_all(base, rtype)}


def written_ids(tmp_path: Path, path: Path, rtype: str) -> set[str]:
    """The ids to-fhir gives the resources of `rtype` for `path` (what the server must hold after --prune)."""
    out = tmp_path / f"tofhir-{path.name}"
    res = CliRunner().invoke(main, ["to-fhir", str(path), "-o", str(out), "--bundle", "none", "--ndjson",
                                    "--no-validate"])
    assert res.exit_code == 0, res.output
    return {json.loads(line)["id"] for line in (out / f"{rtype}.ndjson").read_text().splitlines()}


def _wbc_rows(df: pd.DataFrame) -> pd.Index:
    return df.index[(df["subject_id"] == "01") & (df["test"] == "WBC")]


@pytest.mark.parametrize("kind", KINDS)
def test_reload_sends_nothing_and_keeps_versions(kind: str, tmp_path: Path) -> None:
    with server(kind, tmp_path) as base:
        code, out, first = push(base, EXAMPLE, tmp_path)
        assert code == 0, out
        assert total(first, "created") == 597 and total(first, "created", "Observation") == 494
        assert first["provenance"] and first["failures"] == []
        assert "Observation" in out and "created" in out
        before = versions(base, "Observation")
        assert len(before) == 494
        obs = search_all(base, "Observation")[0]
        tag_systems = {t["system"]: t["code"] for t in obs["meta"]["tag"]}
        assert tag_systems[systems()["study"]] == "MSC-SLE-2009"
        assert len(tag_systems[systems()["content_hash"]]) == 64
        code, out, again = push(base, EXAMPLE, tmp_path)
        assert code == 0, out
        assert total(again, "unchanged") == 597 and total(again, "created") + total(again, "updated") == 0
        assert again["provenance"] is None  # nothing changed: no Provenance
        assert versions(base, "Observation") == before
        provs = search_all(base, "Provenance")
        assert len(provs) == 1 and provs[0]["entity"][0]["what"]["identifier"]["system"] \
            == systems()["provenance_file"]
        assert "msc-interop" in provs[0]["agent"][0]["who"]["display"]


@pytest.mark.parametrize("kind", KINDS)
def test_removed_lab_row_is_pruned_and_nothing_moves(kind: str, tmp_path: Path) -> None:
    """One WBC result of subject 01 removed: with --prune the server holds exactly the input's Observations
    (the issue's failure: ids from LBSEQ left 5 WBC results for a subject with 4)."""
    fewer = records(tmp_path, "fewer", labs=lambda df: df.drop(index=_wbc_rows(df)[1]))
    with server(kind, tmp_path) as base:
        assert push(base, EXAMPLE, tmp_path)[0] == 0
        code, out, rep = push(base, fewer, tmp_path, "--prune")
        assert code == 0, out
        assert total(rep, "deleted", "Observation") == 1 and total(rep, "deleted") == 1
        assert total(rep, "created") == 0
        held = {r["id"] for r in search_all(base, "Observation")}
        assert held == written_ids(tmp_path, fewer, "Observation")
        pid = next(r["id"] for r in search_all(base, "Patient") if r["id"].endswith("-01"))
        wbc = [r for r in search_all(base, f"Observation?subject=Patient/{pid}")
               if any(c.get("code") == "WBC" for c in r["code"]["coding"])]
        assert len(wbc) == len(_wbc_rows(pd.read_csv(fewer / "labs.csv", dtype=str, keep_default_na=False)))


@pytest.mark.parametrize("kind", KINDS)
def test_changed_value_is_one_update(kind: str, tmp_path: Path) -> None:
    def bump(df: pd.DataFrame) -> pd.DataFrame:
        i = _wbc_rows(df)[0]
        df.loc[i, "result"] = f"{float(df.loc[i, 'result']) + 1:.2f}"
        return df

    changed = records(tmp_path, "changed", labs=bump)
    with server(kind, tmp_path) as base:
        assert push(base, EXAMPLE, tmp_path)[0] == 0
        before = versions(base, "Observation")
        code, out, rep = push(base, changed, tmp_path)
        assert code == 0, out
        assert total(rep, "updated") == 1 and total(rep, "updated", "Observation") == 1
        assert total(rep, "unchanged") == 596 and total(rep, "created") == 0
        after = versions(base, "Observation")
        moved = [i for i in before if before[i] != after[i]]
        assert len(moved) == 1 and set(after) == set(before)


def test_subject_added(tmp_path: Path) -> None:
    def add_subject(df: pd.DataFrame) -> pd.DataFrame:
        row = df[df["subject_id"] == "09"].copy()
        row["subject_id"] = "10"
        return pd.concat([df, row], ignore_index=True)

    more = records(tmp_path, "more", subjects=add_subject, labs=add_subject)
    with sekmet_server(tmp_path) as base:
        assert push(base, EXAMPLE, tmp_path)[0] == 0
        code, out, rep = push(base, more, tmp_path)
        assert code == 0, out
        new_labs = len(pd.read_csv(EXAMPLE / "labs.csv", dtype=str).query("subject_id == '09'"))
        assert total(rep, "created", "Patient") == 1 and total(rep, "created", "ResearchSubject") == 1
        assert total(rep, "created", "Observation") == new_labs > 0
        assert total(rep, "unchanged", "Observation") == 494 and total(rep, "updated", "Observation") == 0
        assert len(search_all(base, "Observation")) == 494 + new_labs


def test_interrupted_push_resumes_without_duplicates(tmp_path: Path) -> None:
    """The server stops answering (503 to every request from the 14th on: after the metadata, 8 searches and
    4 chunks): exit 2 naming the checkpoint; run again once it answers: the push finishes, the report counts
    what the first run sent, no duplicates."""
    with sekmet_server(tmp_path) as base, FlakyProxy(base, status=503, first=14, count=None,
                                                      retry_after="0") as proxy:
        code, out, partial = push(proxy.base, EXAMPLE, tmp_path, "--retries", "1")
        assert code == 2, out
        assert "resume" in out and partial["interrupted"]
        sent_first = total(partial, "created")
        assert 0 < sent_first < 597
        assert list(tmp_path.glob("push-checkpoint-*.json"))
        proxy.first = 10 ** 9  # the server answers again
        code, out, rep = push(proxy.base, EXAMPLE, tmp_path)
        assert code == 0, out
        assert rep["resumed"] == sent_first and total(rep, "created") == 597
        assert "resumed" in out
        assert len(search_all(base, "Observation")) == 494
        assert not list(tmp_path.glob("push-checkpoint-*.json"))


@pytest.mark.parametrize("status", [503, 429])
def test_server_saying_later_is_waited_for(status: int, tmp_path: Path) -> None:
    with sekmet_server(tmp_path) as base, FlakyProxy(base, status=status, first=2, count=3,
                                                      retry_after="1") as proxy:
        code, out, rep = push(proxy.base, EXAMPLE, tmp_path)
        assert code == 0, out
        assert proxy.refused == 3 and rep["retried"] == 3
        assert total(rep, "created") == 597
        assert len(search_all(base, "Observation")) == 494


def test_refused_resource_fails_alone_with_its_outcome(tmp_path: Path) -> None:
    """One Observation the server refuses (a string for a decimal): reported with the server's
    OperationOutcome, the other 596 resources loaded, exit 1."""
    fhir = tmp_path / "fhir"
    res = CliRunner().invoke(main, ["to-fhir", str(EXAMPLE), "-o", str(fhir), "--bundle", "none", "--ndjson"])
    assert res.exit_code == 0, res.output
    lines = (fhir / "Observation.ndjson").read_text().splitlines()
    bad = json.loads(lines[7])
    bad["valueQuantity"]["value"] = "six"  # a string where FHIR has a decimal
    lines[7] = json.dumps(bad)
    (fhir / "Observation.ndjson").write_text("\n".join(lines) + "\n")
    for name in ("rejects.csv", "rejects.json"):
        (fhir / name).unlink()
    with sekmet_server(tmp_path) as base:
        code, out, rep = push(base, fhir, tmp_path)
        assert code == 1, out
        assert total(rep, "failed") == 1 and total(rep, "created") == 596
        failure = rep["failures"][0]
        assert failure["resource"] == f"Observation/{bad['id']}" and failure["status"].startswith("4")
        assert failure["outcome"]["resourceType"] == "OperationOutcome"
        assert f"failed Observation/{bad['id']}" in out
        assert len(search_all(base, "Observation")) == 493


def test_token_is_sent_but_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = "s3cret-token-7f1c9a"
    (tmp_path / "token.txt").write_text(token + "\n")
    (tmp_path / "wrong.txt").write_text("wrong-token-0000\n")
    caplog.set_level(logging.DEBUG)
    with sekmet_server(tmp_path, tokens=[token]) as base, FlakyProxy(base, count=0) as proxy:
        code, out, rep = push(proxy.base, EXAMPLE, tmp_path, "--token-file", str(tmp_path / "token.txt"))
        assert code == 0, out
        assert proxy.authorization and set(proxy.authorization) == {f"Bearer {token}"}
        assert status_of(base, token) == 200 and status_of(base, None) == 401
        code, wrong_out, _ = push(base, EXAMPLE, tmp_path, "--token-file", str(tmp_path / "wrong.txt"))
        assert code == 2 and "refused the credentials (401" in wrong_out
        logs = caplog.text + out + wrong_out + json.dumps(rep) + (tmp_path / "server.log").read_text()
        assert token not in logs and "wrong-token-0000" not in logs
        assert "msc_interop.server" in caplog.text or "HTTP Request" in caplog.text  # requests were logged


def status_of(base: str, token: str | None) -> int:
    return request(f"{base}/Patient?_count=1", token=token)[0]


def test_dry_run_sends_nothing_and_medplum_transaction_limit(tmp_path: Path) -> None:
    """--dry-run: the counts, nothing on the server. --batch-size 60 on Medplum: its transactions take at
    most 50 updates, so the refused transaction is sent again as a batch and everything loads."""
    with server("medplum", tmp_path) as base:
        code, out, rep = push(base, EXAMPLE, tmp_path, "--dry-run")
        assert code == 0 and rep["dry_run"] and total(rep, "created") == 597
        assert "nothing was sent" in out and search_all(base, "Observation") == []
        code, out, rep = push(base, EXAMPLE, tmp_path, "--batch-size", "60")
        assert code == 0, out
        assert total(rep, "created") == 597
        assert any("more update operations than allowed" in n for n in rep["notes"])
        assert len(search_all(base, "Observation")) == 494
