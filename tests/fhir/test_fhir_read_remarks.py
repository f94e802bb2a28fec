"""from-fhir on hospital FHIR that converts but must be said: a searchset Bundle that is one page of a search result
(FHIR paging), Observations whose status is not final, date-times with hours but no UTC offset, and LOINC codings
whose display names another test (fhir/paging.py, fhir/remarks.py, msc_interop/loinc_names.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from msc_interop import api
from msc_interop.errors import InputError
from msc_interop.fhir import read_fhir
from msc_interop.study import StudyMeta

sys.path.insert(0, str(Path(__file__).parent))
from ehr_synth import write_ehr

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]
BASE = "https://fhir.hospital.example/R4"
GLUCOSE = ("2345-7", "Glucose [Mass/volume] in Serum or Plasma")  # mappings/lab_tests.yaml GLUC other_loinc
HEMOGLOBIN = ("718-7", "Hemoglobin [Mass/volume] in Blood")  # mappings/lab_tests.yaml HGB loinc


def _obs(rid: str, *, status: str | None = "final", code: tuple[str, str] = GLUCOSE, when: str | None = None,
         patient: str = "p1", **more: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": status, "category": LAB,
                           "code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}]},
                           "subject": {"reference": f"Patient/{patient}"},
                           "effectiveDateTime": when or "2009-10-10T08:30:00+08:00",
                           "valueQuantity": {"value": 95, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}}
    res.update(more)
    return {k: v for k, v in res.items() if v is not None}


def _patient(pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "female"}


def _searchset(path: Path, resources: list[dict[str, Any]], *, total: int | None = None, page: int = 1,
               last: bool = False, modes: bool = True, self_url: str | None = None,
               next_url: str | None = None) -> Path:
    """A searchset Bundle as a server pages it: self and next links (`page`, `last`), total, search modes."""
    url = f"{BASE}/Observation?patient=p1"
    links = [{"relation": "self", "url": self_url or (url if page == 1 else f"{url}&_page={page}")}]
    if not last:
        links.append({"relation": "next", "url": next_url or f"{url}&_page={page + 1}"})
    entries = []
    for r in resources:
        e: dict[str, Any] = {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r}
        if modes:
            e["search"] = {"mode": "include" if r["resourceType"] == "Patient" else "match"}
        entries.append(e)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    if total is not None:
        bundle["total"] = total
    path.write_bytes(orjson.dumps(bundle))
    return path


def _meta(tz: str | None = "Asia/Shanghai") -> StudyMeta:
    return StudyMeta(studyid="S1", timezone=tz)


def _paging(warnings: list[str]) -> list[str]:
    """The warnings about pages of search results (a hospital's Patient ids as USUBJID are warned too)."""
    return [w for w in warnings if "search result" in w or "pages of one" in w]


# --- 1. a page of search results ---------------------------------------------------------------------------------

def test_a_page_with_a_next_link_is_warned_with_the_total_and_the_matches_it_holds(tmp_path: Path) -> None:
    page = _searchset(tmp_path / "searchset.json", [_patient(), _obs("o1"), _obs("o2"), _obs("o3")], total=40)
    study, report = read_fhir([page])
    assert len(study["LB"]) == 3  # what the page holds is still converted
    assert len(_paging(report.warnings)) == 1
    said = _paging(report.warnings)[0]
    assert said in report.notes
    # the Patient is an _include (search.mode include), not one of the 40 matches: 3 of them are here
    assert said.startswith("searchset.json: a searchset Bundle that is one page of a search result")
    assert "the server counted 40 match(es) (Bundle.total), the page read holds 3: 37 were not read" in said
    assert f"its next link ({BASE}/Observation?patient=p1&_page=2) was not followed" in said
    assert f"msc-interop pull --server {BASE} --patients FILE" in said
    report.write_json(tmp_path / "rejects.json")
    doc = orjson.loads((tmp_path / "rejects.json").read_bytes())
    assert said in doc["notes"] and said in doc["warnings"]


def test_without_search_modes_every_entry_is_a_match(tmp_path: Path) -> None:
    page = _searchset(tmp_path / "page.json", [_patient(), _obs("o1")], total=9, modes=False)
    _, report = read_fhir([page])
    assert "the page read holds 2: 7 were not read" in _paging(report.warnings)[0]


def test_every_page_given_together_is_no_warning(tmp_path: Path) -> None:
    one = _searchset(tmp_path / "p1.json", [_patient(), _obs("o1"), _obs("o2")], total=3)
    two = _searchset(tmp_path / "p2.json", [_obs("o3")], total=3, page=2, last=True)
    study, report = read_fhir([two, one])  # whatever the order given: linked by their links
    assert len(study["LB"]) == 3
    assert _paging(report.warnings) == [] and _paging(report.notes) == []


def test_pages_given_together_whose_last_has_a_next_link_are_one_warning(tmp_path: Path) -> None:
    one = _searchset(tmp_path / "p1.json", [_patient(), _obs("o1"), _obs("o2")], total=5)
    two = _searchset(tmp_path / "p2.json", [_obs("o3")], total=5, page=2)  # its next page (3) not given
    _, report = read_fhir([one, two])
    assert len(_paging(report.warnings)) == 1
    said = _paging(report.warnings)[0]
    assert said.startswith("p1.json, p2.json: 2 pages of one searchset result")
    assert "the pages read hold 3: 2 were not read" in said
    assert "&_page=3) was not followed" in said


def test_a_searchset_with_fewer_matches_than_its_total_and_no_next_link_is_warned(tmp_path: Path) -> None:
    page = _searchset(tmp_path / "cut.json", [_patient(), _obs("o1")], total=12, last=True)
    _, report = read_fhir([page])
    said = _paging(report.warnings)
    assert len(said) == 1
    assert "holds 1: 11 were not read" in said[0]
    assert "it has no next link: the other matches are not in the file" in said[0]


def test_a_whole_searchset_and_a_collection_are_no_warning(tmp_path: Path) -> None:
    whole = _searchset(tmp_path / "whole.json", [_patient(), _obs("o1")], total=1, last=True)
    coll = tmp_path / "coll.json"
    coll.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                   "entry": [{"resource": _patient("p2")}, {"resource": _obs("o9", patient="p2")}]}))
    _, report = read_fhir([whole, coll])
    assert _paging(report.warnings) == []


def _page(name: str, self_url: str | None, next_url: str | None, total: int | None, matches: int,
          prev: str | None = None, ids: str | None = None) -> Any:
    from msc_interop.fhir.paging import page_of

    links = [{"relation": "self", "url": self_url}] if self_url else []
    links += [{"relation": "next", "url": next_url}] if next_url else []
    links += [{"relation": "previous", "url": prev}] if prev else []
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": [
        {"resource": {"resourceType": "Observation", "id": f"{ids or name}{i}"}} for i in range(matches)]}
    if total is not None:
        bundle["total"] = total
    return page_of(bundle, name)


def test_the_chains_of_pages() -> None:
    from msc_interop.fhir.paging import judge, page_of

    def gaps(pages: list[Any]) -> list[Any]:
        return judge(pages).gaps

    a, b, c = _page("a", "u1", "u2", 6, 2), _page("b", "u2", "u3", 6, 2), _page("c", "u3", None, 6, 2)
    assert gaps([c, a, b]) == []
    found = gaps([a, c])  # b missing: a's next not given; c's previous page is b (not given) but c has no prev link
    assert [(g.pages[0].file, g.after, g.matches) for g in found] == [("a", "u2", 2), ("c", None, 2)]
    # a later page given alone whose previous page is missing
    d = _page("d", "u3", None, None, 2, prev="u2")
    assert [(g.before, g.total) for g in gaps([d])] == [("u2", None)]
    # a loop of links (a server's error) is judged once, and does not hang
    e, f = _page("e", "v1", "v2", 2, 1), _page("f", "v2", "v1", 2, 1)
    assert gaps([e, f]) == []
    # ... and when it holds fewer matches than its total, it is not said to have no next link: it has one
    g, h = _page("g", "w1", "w2", 5, 1), _page("h", "w2", "w1", 5, 1)
    said = [x.message("read") for x in gaps([g, h])]
    assert len(said) == 1 and "no next link" not in said[0]
    assert "3 were not read; its links lead back to a page given" in said[0]
    assert page_of({"resourceType": "Bundle", "type": "collection", "entry": []}, "x") is None


def test_pages_are_linked_by_previous_links_and_by_urls_written_differently() -> None:
    from msc_interop.fhir.paging import judge

    # page 2's self is the next link of page 1 with its parameters in another order, percent-encoded, _format added
    one = _page("one", "https://h.example/fhir/Observation?patient=p%201&_count=2", "https://h.example/fhir/"
                "Observation?patient=p%201&_count=2&_offset=2", 4, 2)
    two = _page("two", "HTTPS://H.example/fhir/Observation?_offset=2&_format=json&_count=2&patient=p 1", None, 4, 2)
    assert judge([two, one]).gaps == []
    # a server whose next link is an opaque token and whose page 2 says its previous page: linked by previous
    three = _page("three", "https://h.example/fhir/Observation?patient=p1", "https://h.example/fhir?_getpages=x1", 4, 2)
    four = _page("four", "https://h.example/fhir/Observation?patient=p1&page=2", None, 4, 2,
                 prev="https://h.example/fhir/Observation?patient=p1&_pretty=true")
    assert judge([three, four]).gaps == []
    left = judge([three])
    assert [g.after for g in left.gaps] == ["https://h.example/fhir?_getpages=x1"]


def test_a_page_given_twice_is_judged_once() -> None:
    from msc_interop.fhir.paging import judge

    one, two = _page("p1.json", "u1", "u2", 4, 2), _page("p2.json", "u2", None, 4, 2)
    copy = _page("p1copy.json", "u1", "u2", 4, 2, ids="p1.json")
    judged = judge([one, copy, two])
    assert judged.gaps == []
    assert judged.duplicate_notes() == ["p1copy.json is the same page of a search result as p1.json (the same self "
                                        "link): counted once when judging whether pages are missing"]
    # identical entries under another self link (a page saved twice from two requests)
    again = _page("p1again.json", "u1?x=1", "u2", 4, 2, ids="p1.json")  # the same entries as p1.json's
    assert [(c.file, f.file, why) for c, f, why in judge([one, again, two]).duplicates] == [
        ("p1again.json", "p1.json", "identical entries")]


def test_a_page_given_twice_is_no_warning_and_never_said_to_have_no_next_link(tmp_path: Path) -> None:
    one = _searchset(tmp_path / "p1.json", [_patient(), _obs("o1"), _obs("o2")], total=3)
    copy = tmp_path / "p1copy.json"
    copy.write_bytes(one.read_bytes())
    two = _searchset(tmp_path / "p2.json", [_obs("o3")], total=3, page=2, last=True)
    study, report = read_fhir([one, copy, two])
    assert len(study["LB"]) == 3
    assert _paging(report.warnings) == []
    assert not any("no next link" in n for n in report.notes)
    assert "p1copy.json is the same page of a search result as p1.json (the same self link)" in "\n".join(
        report.notes)
    alone = read_fhir([one, copy])[1]  # page 2 missing: said once, with its next link
    assert len(_paging(alone.warnings)) == 1
    assert "&_page=2) was not followed" in _paging(alone.warnings)[0]
    assert "no next link" not in _paging(alone.warnings)[0]


def test_a_last_page_with_a_next_link_and_every_match_is_a_note_not_a_warning(tmp_path: Path) -> None:
    page = _searchset(tmp_path / "p.json", [_patient(), _obs("o1"), _obs("o2")], total=2)
    _, report = read_fhir([page])
    assert _paging(report.warnings) == []
    said = _paging(report.notes)
    assert len(said) == 1
    assert "the server counted 2 match(es) (Bundle.total), the page read holds 2;" in said[0]
    assert "but the total shows every match read, so no match seems missing" in said[0]


@pytest.mark.parametrize("btype", ["collection", "transaction", "batch"])
def test_a_bundle_that_is_no_search_result_is_no_page_whatever_its_links(tmp_path: Path, btype: str) -> None:
    bundle = {"resourceType": "Bundle", "type": btype,
              "link": [{"relation": "self", "url": f"{BASE}/Observation?patient=p1"},
                       {"relation": "next", "url": f"{BASE}/Observation?patient=p1&_page=2"}],
              "entry": [{"fullUrl": f"urn:uuid:0000000{i}-0000-4000-8000-000000000000", "resource": r}
                        | ({"request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                           if btype != "collection" else {})
                        for i, r in enumerate([_patient(), _obs("o1")])]}
    (tmp_path / "b.json").write_bytes(orjson.dumps(bundle))
    _, report = read_fhir([tmp_path / "b.json"])
    assert _paging(report.warnings) == [] and _paging(report.notes) == []


def test_entries_without_a_search_mode_are_matches_unless_an_operation_outcome(tmp_path: Path) -> None:
    page = _searchset(tmp_path / "p.json", [_obs("o1"), _obs("o2")], total=2, last=True, modes=False)
    doc = orjson.loads(page.read_bytes())
    doc["entry"].append({"fullUrl": f"{BASE}/Patient/p1", "resource": _patient(), "search": {"mode": "include"}})
    doc["entry"].append({"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational"}]}})
    page.write_bytes(orjson.dumps(doc))
    _, report = read_fhir([page])
    assert _paging(report.warnings) == [] and _paging(report.notes) == []
    doc["total"] = 3  # one match more than the 2 given
    page.write_bytes(orjson.dumps(doc))
    _, report = read_fhir([page])
    assert "the page read holds 2: 1 were not read" in _paging(report.warnings)[0]


@pytest.mark.parametrize(("total", "self_url", "count"), [
    (0, f"{BASE}/Observation?_summary=count", True),  # a count of no matches: still a count answer
    (5, f"{BASE}/Observation?patient=p1", True),  # a total and no entries: the matches were not asked for
    (5, None, True),
    (0, f"{BASE}/Observation?patient=p1", False),  # a search that matched nothing: no count answer
])
def test_a_count_answer_is_said_to_be_one(tmp_path: Path, total: int, self_url: str | None, count: bool) -> None:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total}
    if self_url:
        bundle["link"] = [{"relation": "self", "url": self_url}]
    (tmp_path / "count.json").write_bytes(orjson.dumps(bundle))
    with pytest.raises(InputError) as err:
        read_fhir([tmp_path / "count.json"])
    said = f"count.json: a _summary=count answer: {total} match{'' if total == 1 else 'es'}, no resources; search " \
        "without _summary to read them"
    assert (said in str(err.value)) == count and ("no FHIR resources found" in str(err.value)) != count
    _collection(tmp_path / "b.json", [_patient(), _obs("o1")])
    study, report = read_fhir([tmp_path / "count.json", tmp_path / "b.json"])
    assert len(study["LB"]) == 1
    assert [w for w in report.warnings if "count" in w] == ([said] if count else [])
    assert not _paging(report.warnings)  # not also said to be a page of a search


# --- 2. statuses that are not final ------------------------------------------------------------------------------

def _collection(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                   "entry": [{"fullUrl": f"urn:uuid:{i:08d}-0000-4000-8000-000000000000",
                                              "resource": r} for i, r in enumerate(resources)]}))
    return path


def test_results_with_a_status_that_is_not_final_are_converted_and_counted_per_status(tmp_path: Path) -> None:
    obs = [_obs("fin"), _obs("amd", status="amended"), _obs("cor", status="corrected"),
           _obs("pre1", status="preliminary"), _obs("pre2", status="preliminary"), _obs("reg", status="registered"),
           _obs("unk", status="unknown"), _obs("none", status=None), _obs("odd", status="prelim"),
           _obs("eie", status="entered-in-error"), _obs("can", status="cancelled"),
           _obs("pre3", status="preliminary", subject=None)]  # no subject: rejected, so not said converted
    path = _collection(tmp_path / "b.json", [_patient(), *obs])
    study, report = read_fhir([path], study_meta=_meta())
    assert len(study["LB"]) == 9  # all but entered-in-error, cancelled and the one without a subject
    rejected = {(x.field, x.value) for x in report.rejects}
    assert ("Observation.status", "entered-in-error") in rejected and ("Observation.status", "cancelled") in rejected
    said = [n for n in report.notes if "were converted as results" in n]
    assert len(said) == 5, said
    by = {n.split(" from Observations ")[1].split(" were ")[0]: n for n in said}
    assert by["with status preliminary (initial or interim: data may be incomplete or unverified)"].startswith(
        "LB: 2 record(s)")
    assert by["with status preliminary (initial or interim: data may be incomplete or unverified)"].endswith(
        ": Observation/pre1, Observation/pre2")
    assert by["with status registered (registered, no result available yet)"].endswith(": Observation/reg")
    assert by["with status unknown (the source system does not know which status applies)"].startswith("LB: 1")
    assert by["without a status (Observation.status is required)"].endswith(": Observation/none")
    assert by["with status 'prelim' (not an ObservationStatus code)"].endswith(": Observation/odd")
    assert all("LBSTAT is only NOT DONE" in n for n in said)
    assert not any(f"Observation/{x}" in n for n in said for x in ("fin", "amd", "cor", "pre3"))


def test_statuses_are_said_for_vital_signs_and_ecgs_too(tmp_path: Path) -> None:
    vs = _obs("hr", status="preliminary", code=("8867-4", "Heart rate"), category=[{"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        valueQuantity={"value": 70, "unit": "/min", "system": UCUM, "code": "/min"})
    eg = _obs("qt", status="unknown", code=("44975-1", "Q-T interval {EKG lead}"), category=None,
              valueQuantity={"value": 400, "unit": "ms", "system": UCUM, "code": "ms"})
    study, report = read_fhir([_collection(tmp_path / "b.json", [_patient(), vs, eg])], study_meta=_meta())
    assert len(study["VS"]) == 1 and len(study["EG"]) == 1
    said = [n for n in report.notes if "were converted as results" in n]
    assert [n.split(" record(s)")[0] for n in said] == ["EG: 1", "VS: 1"]
    assert "EGSTAT is only NOT DONE" in said[0] and said[0].endswith("Observation/qt")


# --- 3. date-times without an offset -----------------------------------------------------------------------------

def test_a_time_without_an_offset_is_read_as_the_study_zone_and_said(tmp_path: Path) -> None:
    obs = [_obs("zoned"), _obs("bare", when="2009-10-12T08:30:00"), _obs("day", when="2009-10-13")]
    ae = {"resourceType": "AdverseEvent", "id": "ae1", "actuality": "actual", "subject": {"reference": "Patient/p1"},
          "event": {"text": "Headache"}, "date": "2009-10-14T09:00:00"}
    study, report = read_fhir([_collection(tmp_path / "b.json", [_patient(), *obs, ae])], study_meta=_meta())
    assert sorted(study["LB"]["LBDTC"]) == ["2009-10-10T08:30", "2009-10-12T08:30", "2009-10-13"]
    assert list(study["AE"]["AESTDTC"]) == ["2009-10-14T09:00"]
    said = [n for n in report.notes if "no UTC offset" in n]
    assert [n.split(" record(s)")[0] for n in said] == ["AE: 1", "LB: 1"]
    assert "read as the local time of Asia/Shanghai (the study's time zone)" in said[1]
    assert said[1].endswith(": Observation/bare") and said[0].endswith(": AdverseEvent/ae1")


def test_without_a_time_zone_the_note_says_the_clock_time_was_kept(tmp_path: Path) -> None:
    path = _collection(tmp_path / "b.json", [_patient(), _obs("bare", when="2009-10-12T08:30:00")])
    _, report = read_fhir([path], study_meta=_meta(None))
    said = [n for n in report.notes if "no UTC offset" in n]
    assert len(said) == 1 and "kept as written (no time zone given" in said[0]


# --- 4. a LOINC display that names another test ------------------------------------------------------------------

def test_a_loinc_display_naming_another_test_is_converted_by_its_code_and_said(tmp_path: Path) -> None:
    obs = [_obs("wrong", code=(GLUCOSE[0], HEMOGLOBIN[1])),
           _obs("case", code=(GLUCOSE[0], "  glucose [MASS/volume] in serum   or plasma")),  # case and spaces
           _obs("test", code=(GLUCOSE[0], "Glucose")),  # the catalogue's own name of the test (LBTEST)
           _obs("short", code=(GLUCOSE[0], "Glucose SerPl-mCnc")),  # its LOINC SHORTNAME: FHIR allows it
           _obs("local", code=(GLUCOSE[0], "Glucose, fasting")),  # a lab's own text: not held, not judged
           _obs("hgb", code=(HEMOGLOBIN[0], "Hgb Bld-mCnc")),  # 718-7's SHORTNAME
           _obs("unheld", code=("99999-9", HEMOGLOBIN[1]))]  # a code the mapping data has no names for: not judged
    study, report = read_fhir([_collection(tmp_path / "b.json", [_patient(), *obs])], study_meta=_meta())
    lb = study["LB"]
    assert list(lb.loc[lb["LBLOINC"] == GLUCOSE[0], "LBTESTCD"]) == ["GLUC"] * 5  # as the code says
    said = [n for n in report.notes if "MSC-FHIR-014" in n]
    assert said == ["1 record(s) have a LOINC coding whose display is the LOINC name of another code (validate "
                    "reports MSC-FHIR-014); each was converted as its code says: 2345-7 'Hemoglobin [Mass/volume] in "
                    "Blood' (it is the LOINC name of 718-7; LOINC 2345-7 is 'Glucose [Mass/volume] in Serum or "
                    "Plasma'): 1 LB (Observation/wrong)"]
    warned = [w for w in report.warnings if "LOINC" in w]
    assert len(warned) == 1 and "(2345-7 'Hemoglobin [Mass/volume] in Blood')" in warned[0]


def test_an_ordinary_export_with_loinc_short_names_is_said_nothing(tmp_path: Path) -> None:
    """HL7's examples and hospitals display LOINC codes by SHORTNAME or an older long name: no note, no warning."""
    obs = [_obs("a", code=(GLUCOSE[0], "Glucose SerPl-mCnc")), _obs("b", code=(HEMOGLOBIN[0], "Hgb Bld-mCnc")),
           _obs("c", code=("1963-8", "Bicarbonate [Moles/?volume] in Serum")),
           _obs("d", code=("11557-6", "Carbon dioxide in blood"))]
    _, report = read_fhir([_collection(tmp_path / "b.json", [_patient(), *obs])], study_meta=_meta())
    assert not any("LOINC" in n for n in report.notes + report.warnings)


@pytest.mark.parametrize("system", ["http://loinc.org/", "urn:oid:2.16.840.1.113883.6.1"])
def test_from_fhir_and_validate_judge_the_same_loinc_codings(tmp_path: Path, system: str) -> None:
    from msc_interop.validate import fhir_rules

    wrong = _obs("o1", code=(GLUCOSE[0], HEMOGLOBIN[1]))
    wrong["code"]["coding"][0]["system"] = system
    path = _collection(tmp_path / "b.json", [_patient(), wrong])
    _, report = read_fhir([path], study_meta=_meta())
    assert [n.split(":")[0] for n in report.notes if "MSC-FHIR-014" in n] == [
        "1 record(s) have a LOINC coding whose display is the LOINC name of another code (validate reports "
        "MSC-FHIR-014); each was converted as its code says"]
    found = [(f.dataset_or_resource, f.value) for f in fhir_rules([path], "R4") if f.rule_id == "MSC-FHIR-014"]
    assert found == [("Observation/o1", HEMOGLOBIN[1])]


def test_an_ecg_components_wrong_display_counts_only_its_record(tmp_path: Path) -> None:
    """An ECG Observation of 3 components, only QT's display another code's name: 1 EG record said, not 3."""
    def comp(code: str, display: str, value: float, unit: str) -> dict[str, Any]:
        return {"code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}

    ecg = _obs("ecg1", code=("11524-6", "EKG study"), category=None, valueQuantity=None, component=[
        comp("76282-3", "Heart rate.beat-to-beat by EKG", 70, "/min"), comp("44976-9", "P-R interval {EKG lead}", 160,
                                                                             "ms"),
        comp("44975-1", GLUCOSE[1], 400, "ms")])
    again = _obs("ecg2", code=("11524-6", "EKG study"), category=None, valueQuantity=None, component=[
        comp("76282-3", "Heart rate.beat-to-beat by EKG", 72, "/min"), comp("44975-1", GLUCOSE[1], 410, "ms")],
        effectiveDateTime="2009-10-11T08:30:00+08:00")
    study, report = read_fhir([_collection(tmp_path / "b.json", [_patient(), ecg, again])], study_meta=_meta())
    assert len(study["EG"]) == 5
    said = [n for n in report.notes if "MSC-FHIR-014" in n]
    assert len(said) == 1 and said[0].startswith("2 record(s) have a LOINC coding")
    assert said[0].endswith("44975-1 'Glucose [Mass/volume] in Serum or Plasma' (it is the LOINC name of 2345-7; "
                            "LOINC 44975-1 is 'Q-T interval {EKG lead}'): 2 EG (Observation/ecg1, Observation/ecg2)")


# --- the tester's file and a partitioned read ----------------------------------------------------------------------

def test_the_four_remarks_on_one_page(tmp_path: Path) -> None:
    """As the tester's searchset: a page of 40, a preliminary result, a time without an offset, a wrong display."""
    page = _searchset(tmp_path / "searchset.json",
                      [_patient(), _obs("glu", code=(GLUCOSE[0], HEMOGLOBIN[1])), _obs("plt", status="preliminary"),
                       _obs("hgb", when="2009-10-12T08:30:00"), _obs("fin")], total=40)
    _, report = read_fhir([page], study_meta=_meta())
    notes = "\n".join(report.notes)
    assert "the server counted 40 match(es)" in notes
    assert "LB: 1 record(s) from Observations with status preliminary" in notes and "Observation/plt" in notes
    assert "LB: 1 record(s) have a date-time with hours but no UTC offset" in notes and "Observation/hgb" in notes
    assert "(Observation/glu)" in notes
    assert len(_paging(report.warnings)) == 1 and len([w for w in report.warnings if "LOINC" in w]) == 1


def _export(folder: Path) -> Path:
    """A hospital's NDJSON export of 6 patients (ehr_synth), with remarks spread over its subjects."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for b in write_ehr(folder / "bundles", patients=6):
        doc = orjson.loads(b.read_bytes())
        urls = {e["fullUrl"]: f'{e["resource"]["resourceType"]}/{e["resource"]["id"]}' for e in doc["entry"]}
        for e in doc["entry"]:
            text = orjson.dumps(e["resource"])
            for url, key in urls.items():
                text = text.replace(orjson.dumps(url), orjson.dumps(key))
            by_type.setdefault(e["resource"]["resourceType"], []).append(orjson.loads(text))
    labs = [o for o in by_type["Observation"] if o["category"][0]["coding"][0]["code"] == "laboratory"
            and o["code"]["coding"][0]["code"] in ("2345-7", "718-7", "6690-2", "777-3")]
    for i, o in enumerate(labs[::7]):  # every seventh lab, over every subject
        kind = i % 3
        if kind == 0:
            o["status"] = "preliminary"
        elif kind == 1:
            o["effectiveDateTime"] = o["effectiveDateTime"][:19]
        else:
            o["code"]["coding"][0]["display"] = "Platelets [#/volume] in Blood by Automated count" \
                if o["code"]["coding"][0]["code"] != "777-3" else HEMOGLOBIN[1]
    out = folder / "export"
    out.mkdir()
    for rtype, rows in by_type.items():
        (out / f"{rtype}.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return out


def test_a_partitioned_read_says_the_same_as_a_whole_read(tmp_path: Path) -> None:
    export = _export(tmp_path)
    whole = api.from_fhir([export], tmp_path / "whole", formats=["csv"], partition_subjects="off")
    part = api.from_fhir([export], tmp_path / "part", formats=["csv"], partition_subjects=2)
    assert part.partitions > 1
    said = [n for n in whole.rejects.notes if "were converted as results" in n or "no UTC offset" in n
            or "MSC-FHIR-014" in n]
    assert len(said) == 3, whole.rejects.notes  # the three kinds were met
    assert part.rejects.notes == whole.rejects.notes and part.rejects.warnings == whole.rejects.warnings


@pytest.mark.parametrize("status", ["preliminary", "registered"])
def test_a_superseded_version_with_the_status_is_not_said(tmp_path: Path, status: str) -> None:
    old = _obs("o1", status=status, meta={"versionId": "1"})
    new = _obs("o1", meta={"versionId": "2"})
    _, report = read_fhir([_collection(tmp_path / "b.json", [_patient(), old, new])], study_meta=_meta())
    assert not any("were converted as results" in n for n in report.notes)
