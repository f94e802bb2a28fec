"""R5 pushes (issue 16): a server whose CapabilityStatement says it speaks R4 (sekmet-fhir 0.1.1) is refused
with exit 2 before anything is converted or sent; Medplum's router stores R5 resources as they are sent, so
an R5 push and an R5 pull give back the SDTM of to-sdtm."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_pull import pull, same_sdtm, sdtm, to_sdtm
from test_push import count, held, push, records

from msc_interop.cli import main
from servers.fhir_servers import request, sekmet_server, server


def test_r5_push_to_an_r4_server_exits_2_naming_both_versions(tmp_path: Path) -> None:
    path = records(tmp_path, "study", "PUSH-R5-SEKMET")
    with sekmet_server(tmp_path) as base:
        status, cap = request(f"{base}/metadata")
        assert status == 200 and cap["fhirVersion"].startswith("4.0")  # what the refusal is read from
        code, out, rep = push(base, path, tmp_path, "--fhir-version", "R5")
        assert code == 2, out
        assert f"speaks FHIR {cap['fhirVersion']}, not R5" in out and "--fhir-version R4" in out
        assert rep["interrupted"] and rep["counts"] == {}
        assert held(base, "Patient", "PUSH-R5-SEKMET") == []  # nothing was sent


def test_r5_push_and_pull_round_trip_on_medplum(tmp_path: Path) -> None:
    """The records pushed as R5 (converted by push itself): the server holds R5 elements as sent (ResearchSubject
    .subject and .progress, Encounter.actualPeriod; R4 has .individual and .period), and a pull read as R5
    gives the SDTM of to-sdtm."""
    study = "PUSH-R5-MEDPLUM"
    path = records(tmp_path, "study", study)
    fhir = tmp_path / "r5"
    res = CliRunner().invoke(main, ["to-fhir", str(path), "-o", str(fhir), "--bundle", "none", "--ndjson",
                                    "--no-validate", "--fhir-version", "R5"])
    assert res.exit_code == 0, res.output
    sent = {p.stem: [json.loads(x) for x in p.read_text().splitlines()] for p in fhir.glob("*.ndjson")}
    with server("medplum", tmp_path) as base:
        code, out, rep = push(base, path, tmp_path, "--fhir-version", "R5")
        assert code == 0, out
        assert sum(r["created"] for r in rep["counts"].values()) == count(sent)
        subjects = held(base, "ResearchSubject", study)
        assert subjects and all("subject" in r and "individual" not in r and r["progress"] for r in subjects)
        want = {r["id"]: r for r in sent["ResearchSubject"]}
        for r in subjects:
            assert {k: v for k, v in r.items() if k != "meta"} == {k: v for k, v in want[r["id"]].items()
                                                                   if k != "meta"}
        encounters = held(base, "Encounter", study)
        assert encounters and all("actualPeriod" in r and "period" not in r for r in encounters)
        code, out = pull(base, tmp_path / "pulled", tmp_path, "--study", study, "--fhir-version", "R5")
        assert code == 0, out
        same_sdtm(base, to_sdtm(tmp_path, path), sdtm(tmp_path / "pulled" / "sdtm"))
