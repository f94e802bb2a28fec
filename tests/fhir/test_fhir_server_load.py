"""The transaction Bundle of `msc-interop to-fhir --bundle transaction` (R4) loads into a real FHIR server.

The server is sekmet-fhir (FastAPI + SQLite, FHIR R4, validates every resource it stores with fhir.resources),
started on a free loopback port. Loaded: every entry 200/201 in a transaction-response, the `urn:uuid`
references resolved to `Type/id`, the labs searchable per subject, and a second load updates (PUT) instead of
duplicating. Skipped when sekmet-fhir is not installed (`pip install "sekmet-fhir==0.1.1"`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from fhir_fixtures import REPO, example  # noqa: F401

from msc_interop.cli import main
from msc_interop.study import Study
from servers.fhir_servers import sekmet_server

pytest.importorskip("sekmet", reason="the loopback FHIR server sekmet-fhir is not installed "
                                     "(pip install 'sekmet-fhir==0.1.1')")

def _request(url: str, body: bytes | None = None, timeout: float = 120) -> tuple[int, Any]:
    """(HTTP status, parsed JSON body) of a GET, or of a POST of `body` as FHIR JSON."""
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sekmet-fhir server on a free loopback port with an empty store; yields its FHIR base URL."""
    with sekmet_server(tmp_path_factory.mktemp("fhir_server")) as base:
        yield base


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The R4 transaction Bundle written by `msc-interop to-fhir fixtures/example_study --bundle transaction`."""
    out = tmp_path_factory.mktemp("to_fhir")
    res = CliRunner().invoke(main, ["to-fhir", str(REPO / "fixtures" / "example_study"), "-o", str(out),
                                    "--bundle", "transaction"])
    assert res.exit_code == 0, res.output
    return json.loads((out / "bundle.json").read_bytes())


@pytest.fixture(scope="module")
def loaded(server: str, bundle: dict[str, Any]) -> dict[str, Any]:
    status, response = _request(server, json.dumps(bundle).encode())
    assert status == 200, json.dumps(response)[:2000]
    return response


def _entries(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _search(server: str, query: str) -> dict[str, Any]:
    status, result = _request(f"{server}/{query}")
    assert status == 200 and result["resourceType"] == "Bundle" and result["type"] == "searchset", result
    return result


def test_every_entry_is_created(loaded: dict[str, Any], bundle: dict[str, Any]) -> None:
    assert loaded["resourceType"] == "Bundle" and loaded["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in loaded["entry"]]
    assert len(statuses) == len(bundle["entry"]) == 597 + 450 + 275 + 105 + 36  # + VS, EG Obs.; MH, PR, RE; CM
    assert all(s.split()[0] in ("200", "201") for s in statuses), sorted(set(statuses))
    # each location is the PUT url of its entry (the server kept our ids)
    for entry, answer in zip(bundle["entry"], loaded["entry"], strict=True):
        assert f"/{entry['request']['url']}/_history/" in answer["response"]["location"]


def test_labs_are_found_per_subject(loaded: dict[str, Any], server: str, example: Study,  # noqa: F811
                                    bundle: dict[str, Any]) -> None:
    lb_rows = pd.concat([example["LB"]["USUBJID"], example["VS"]["USUBJID"],
                        example["EG"]["USUBJID"], example["RE"]["USUBJID"]]).value_counts()  # LB, VS, EG, RE
    patients = {p["identifier"][0]["value"]: p["id"] for p in _entries(bundle, "Patient")}
    assert set(patients) == set(example["DM"]["USUBJID"])
    for usubjid, pid in patients.items():
        found = _search(server, f"Observation?subject=Patient/{pid}&_count=1000")
        assert found["total"] == lb_rows.get(usubjid, 0), usubjid
        for e in found.get("entry", []):
            obs = e["resource"]
            assert obs["subject"]["reference"] == f"Patient/{pid}"  # urn:uuid resolved to Type/id
            assert obs["encounter"]["reference"].startswith("Encounter/")


def test_medication_administration_references_resolve(loaded: dict[str, Any], server: str,
                                                      example: Study) -> None:  # noqa: F811
    found = _search(server, "MedicationAdministration?_count=1000")
    assert found["total"] == len(example["EX"]) == 18
    for e in found["entry"]:
        ma = e["resource"]
        for ref in (ma["subject"]["reference"], ma["context"]["reference"]):
            rtype = ref.split("/")[0]
            status, target = _request(f"{server}/{ref}")
            assert status == 200 and target["resourceType"] == rtype, ref
        assert ma["medicationReference"]["reference"] == "#med"
        assert [c["id"] for c in ma["contained"]] == ["med"]


def test_loading_again_updates_instead_of_duplicating(loaded: dict[str, Any], server: str,
                                                      bundle: dict[str, Any]) -> None:
    status, again = _request(server, json.dumps(bundle).encode())
    assert status == 200 and again["type"] == "transaction-response"
    assert {e["response"]["status"].split()[0] for e in again["entry"]} == {"200"}
    total = _search(server, "Observation?_summary=count")["total"]
    assert total == len(_entries(bundle, "Observation")) == 494 + 450 + 275 + 45
