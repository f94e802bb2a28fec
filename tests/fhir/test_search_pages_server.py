"""Pages of a real server's search (sekmet-fhir on 127.0.0.1; nothing mocked) given to push and from-fhir: a page
with a next link is said to be one page (how many matches the server counted, how many the page holds, its next
link, how to get the rest) by push as by from-fhir; a `_summary=count` answer is said to be a count, not data; the
`_include`d entries of a page are not counted as matches (FHIR R4/R5 Bundle.total: entries of mode 'match')."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.fhir.read import read_fhir
from servers.fhir_servers import request, sekmet_server

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
OBSERVATIONS, PATIENTS = 7, 3


def _obs(i: int) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"glu{i}", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "2345-7", "display": "Glucose [Mass/volume] in Serum or "
                                 "Plasma"}]},
            "subject": {"reference": f"Patient/pat{i % PATIENTS}"},
            "effectiveDateTime": f"2009-10-{10 + i:02d}T08:30:00+08:00",
            "valueQuantity": {"value": 90 + i, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}}


def _load(base: str) -> None:
    """3 Patients and 7 glucose Observations."""
    for i in range(PATIENTS):
        status, body = request(f"{base}/Patient/pat{i}", "PUT",
                               {"resourceType": "Patient", "id": f"pat{i}", "gender": "female"})
        assert status in (200, 201), body
    for i in range(OBSERVATIONS):
        status, body = request(f"{base}/Observation/glu{i}", "PUT", _obs(i))
        assert status in (200, 201), body


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server holding 3 Patients and 7 glucose Observations (the tests' pushes change none of them)."""
    with sekmet_server(tmp_path_factory.mktemp("sekmet")) as base:
        _load(base)
        yield base


def _save(base: str, query: str, path: Path) -> dict[str, Any]:
    """The server's answer to a search, saved as a user saves it."""
    status, bundle = request(f"{base}/{query}")
    assert status == 200 and bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset", bundle
    path.write_text(json.dumps(bundle))
    return bundle


def _whole_pushed(base: str, tmp_path: Path) -> None:
    """The server loaded, its whole search saved and pushed back as one file (every resource the study's)."""
    _load(base)
    _save(base, "Observation?_count=50&_include=Observation:subject", tmp_path / "all.json")
    code, out, report = _push(base, tmp_path / "all.json", tmp_path)
    assert code == 0 and report["input_resources"] == OBSERVATIONS + PATIENTS, out


def _next(bundle: dict[str, Any]) -> str | None:
    return next((ln["url"] for ln in bundle.get("link") or [] if ln["relation"] == "next"), None)


def _push(base: str, path: Path, state: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    report = state / "report.json"
    report.unlink(missing_ok=True)
    res = CliRunner().invoke(main, ["push", str(path), "--server", base, "--state-dir", str(state),
                                    "--report", str(report), "--study", "PAGES", *extra])
    return res.exit_code, res.output, json.loads(report.read_text()) if report.exists() else {}


def test_push_of_one_page_says_it_is_one_page(sekmet: str, tmp_path: Path) -> None:
    page = _save(sekmet, "Observation?_count=3&_include=Observation:subject", tmp_path / "page1.json")
    matches = [e for e in page["entry"] if e["search"]["mode"] == "match"]
    assert page["total"] == OBSERVATIONS and len(matches) == 3 and _next(page)
    assert len(page["entry"]) > 3  # the _include'd Patients (mode include): pushed, not counted as matches
    code, out, report = _push(sekmet, tmp_path / "page1.json", tmp_path)
    assert code == 0, out
    assert report["input_resources"] == len(page["entry"])
    assert len(report["warnings"]) == 1, report["warnings"]
    said = report["warnings"][0]
    assert said.startswith("page1.json: a searchset Bundle that is one page of a search result")
    assert f"the server counted {OBSERVATIONS} match(es) (Bundle.total), the page pushed holds 3: 4 were not pushed" \
        in said
    assert f"its next link ({_next(page)}) was not followed" in said
    assert f"msc-interop pull --server {sekmet}" in said and "save every page and give their files together" in said
    assert f"warning: {said}" in out  # printed with the report


def test_push_of_every_page_or_the_whole_search_says_nothing_of_pages(sekmet: str, tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    url, n = f"{sekmet}/Observation?_count=3", 0
    while url:  # every page, as the advice says: given together, nothing is missing
        n += 1
        page = _save(sekmet, url[len(sekmet) + 1:], folder / f"page{n}.json")
        url = _next(page)
    assert n == 3
    code, out, report = _push(sekmet, folder, tmp_path)
    assert code == 0, out
    assert report["input_resources"] == OBSERVATIONS and report["warnings"] == []
    assert "warning" not in out
    _save(sekmet, "Observation?_count=50&_include=Observation:subject", tmp_path / "all.json")
    code, out, report = _push(sekmet, tmp_path / "all.json", tmp_path)
    assert code == 0 and report["warnings"] == [], out


def test_push_of_a_count_answer_is_refused(tmp_path: Path) -> None:
    """A count answer holds no resources: pushed with --prune it would delete every resource of the study (its
    own server: before the fix it did)."""
    (tmp_path / "server").mkdir()
    with sekmet_server(tmp_path / "server") as base:
        _whole_pushed(base, tmp_path)
        answer = _save(base, "Observation?_summary=count", tmp_path / "count.json")
        assert answer["total"] == OBSERVATIONS and not answer.get("entry")
        code, out, _ = _push(base, tmp_path / "count.json", tmp_path, "--prune")
        assert code == 2, out
        assert f"count.json: a _summary=count answer: {OBSERVATIONS} matches, no resources; search without " \
            "_summary to read them" in out
        status, still = request(f"{base}/Observation?_summary=count")
        assert status == 200 and still["total"] == OBSERVATIONS  # nothing pruned


@pytest.mark.parametrize("query", ["Observation?_summary=count", "Observation?_count=0"])
def test_from_fhir_of_a_count_answer_says_what_it_is(sekmet: str, tmp_path: Path, query: str) -> None:
    _save(sekmet, query, tmp_path / "count.json")
    res = CliRunner().invoke(main, ["from-fhir", str(tmp_path / "count.json"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert f"count.json: a _summary=count answer: {OBSERVATIONS} matches, no resources; search without _summary " \
        "to read them" in res.output
    assert "no FHIR resources found" not in res.output


def test_from_fhir_reads_the_other_files_and_warns_of_the_count_answer(sekmet: str, tmp_path: Path) -> None:
    _save(sekmet, "Observation?_summary=count", tmp_path / "count.json")
    _save(sekmet, "Observation?_count=50&_include=Observation:subject", tmp_path / "all.json")
    study, report = read_fhir([tmp_path / "count.json", tmp_path / "all.json"])
    assert len(study["LB"]) == OBSERVATIONS
    assert [w for w in report.warnings if "count" in w] == [
        f"count.json: a _summary=count answer: {OBSERVATIONS} matches, no resources; search without _summary to "
        "read them"]
    assert not [w for w in report.warnings + report.notes if "search result" in w]  # all.json: the whole search


def test_from_fhir_counts_only_the_matches_of_a_page_with_included_entries(sekmet: str, tmp_path: Path) -> None:
    """The server's page holds 3 matches and the Patients they refer to (mode include): 3 of the 7 counted."""
    page = _save(sekmet, "Observation?_count=3&_include=Observation:subject", tmp_path / "page1.json")
    assert {e["search"]["mode"] for e in page["entry"]} == {"match", "include"}
    study, report = read_fhir([tmp_path / "page1.json"])
    assert len(study["LB"]) == 3
    said = [w for w in report.warnings if "search result" in w]
    assert len(said) == 1 and f"the page read holds 3: {OBSERVATIONS - 3} were not read" in said[0], said
