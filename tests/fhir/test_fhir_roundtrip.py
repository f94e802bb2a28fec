"""SDTM -> FHIR -> SDTM gives DM, EX, AE, LB, VS, EG, SUPPEX, MH, PR, RE, RELREC, CM, DS and SV back cell for cell
(R4 and R5, Bundle and NDJSON)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fhir_fixtures import assert_same, cdisc, example, written  # noqa: F401

from msc_interop.fhir import read_fhir, write_fhir
from msc_interop.sdtm.formats import write_study
from msc_interop.study import Study


@pytest.mark.parametrize("version", ["R4", "R5"])
@pytest.mark.parametrize("layout", ["bundle", "ndjson"])
def test_bundled_study_round_trips_exactly(example: Study, written: dict[str, Path], version: str,  # noqa: F811
                                           layout: str) -> None:
    folder = written[version]
    paths = [folder / "bundle.json"] if layout == "bundle" else sorted(folder.glob("*.ndjson"))
    back, report = read_fhir(paths)
    assert len(report) == 0 and report.n_rejected_records == 0
    assert report.version == version
    assert_same(example, back)
    assert back.meta.studyid == example.meta.studyid and back.meta.timezone == "Asia/Shanghai"


def test_round_trip_keeps_dates_that_fhir_cannot_hold(example: Study, tmp_path: Path) -> None:  # noqa: F811
    lb = example["LB"].copy()
    odd = ["2003---15", "2009-10-04T09:19:00", "2010-01-05T13", "2009-10-04/2009-10-05", "2011", ""]
    lb.loc[: len(odd) - 1, "LBDTC"] = odd
    ae = example["AE"].copy()
    ae["AEENDTC"] = "2009-03"
    study = Study(example.meta, {**example.datasets, "LB": lb, "AE": ae})
    for version in ("R4", "R5"):
        write_fhir(study, tmp_path / version, version=version, bundle="collection")
        back, _ = read_fhir([tmp_path / version / "bundle.json"])
        assert_same(study, back, ("LB", "AE"))


def test_round_trip_keeps_decimal_text_and_odd_results(example: Study, tmp_path: Path) -> None:  # noqa: F811
    lb = example["LB"].copy()
    lb.loc[0, ["LBORRES", "LBORNRLO", "LBORNRHI"]] = ["5.40", "007", "1e3"]
    lb.loc[1, ["LBORRES", "LBORRESU"]] = ["<0.5", "ug/L"]
    lb.loc[2, ["LBORRES", "LBORRESU"]] = ["NEGATIVE", "ug/L"]
    lb.loc[3, ["LBORRES", "LBSTRESC", "LBSTRESN"]] = ["", "", float("nan")]
    lb.loc[4, "LBNRIND"] = "HIGH PANIC"
    lb.loc[5, "LBTESTCD"] = "NOTCT1"
    lb["LBXTRA"] = ["x" if i % 7 == 0 else "" for i in range(len(lb))]
    study = Study(example.meta, {**example.datasets, "LB": lb})
    write_fhir(study, tmp_path, version="R4", bundle="none", ndjson=True)
    back, report = read_fhir([tmp_path])
    assert len(report) == 0
    assert_same(study, back, ("LB",))


def test_cdisc_example_sdtm_round_trips(cdisc: Study, tmp_path: Path) -> None:  # noqa: F811
    """CDISC's own pilot study: many lab tests without LOINC, partial dates, extra variables (SPDEVID...); its VS
    (temperatures in F, weights in LB, heights in in, VSSTAT, VSLOC, VSREPNUM) too."""
    assert (cdisc["LB"]["LBTESTCD"] == "ALB").any() and len(cdisc["VS"]) == 1414
    write_fhir(cdisc, tmp_path / "r4", version="R4", bundle="none", ndjson=True)
    back, report = read_fhir([tmp_path / "r4"])
    assert len(report) == 0
    assert_same(cdisc, back, ("DM", "EX", "AE", "LB", "VS"))
    write_fhir(cdisc, tmp_path / "r5", version="R5", bundle="transaction")
    back, report = read_fhir([tmp_path / "r5" / "bundle.json"], version="R5")
    assert len(report) == 0
    assert_same(cdisc, back, ("DM", "EX", "AE", "LB", "VS"))


def test_from_fhir_writes_sdtm_like_to_sdtm(example: Study, written: dict[str, Path],  # noqa: F811
                                            tmp_path: Path) -> None:
    back, _ = read_fhir([written["R5"] / "bundle.json"])
    paths = write_study(back, tmp_path, ["json", "csv"], created="2026-01-01T00:00:00")
    expected = write_study(example, tmp_path / "direct", ["json", "csv"], created="2026-01-01T00:00:00")
    direct = {p.name: p for p in expected}
    compared = [p.name for p in paths if p.stem in ("dm", "ex", "ae", "lb", "suppex", "vs")]
    assert len(compared) == 12
    for p in paths:
        if p.name in compared:
            assert p.read_bytes() == direct[p.name].read_bytes(), p.name


def test_a_to_fhir_folder_with_bundle_and_ndjson_is_read_once(example: Study,  # noqa: F811
                                                              written: dict[str, Path]) -> None:  # noqa: F811
    back, report = read_fhir([written["R4"]])
    assert_same(example, back)
    assert any("identical copies of a resource read before" in n for n in report.notes)
    # every resource is there twice (bundle.json and <Type>.ndjson): read twice, converted once, the copy skipped;
    # Observations: one per LB, VS, EG record and the chest X-ray readings (RE)
    counts = {c["form"]: c for c in report.form_counts()}
    n_obs = len(example["LB"]) + len(example["VS"]) + len(example["EG"]) + len(example["RE"])
    assert (counts["Observation"]["read"], counts["Observation"]["converted"], counts["Observation"]["skipped"],
            counts["Observation"]["rejected"]) == (2 * n_obs, n_obs, n_obs, 0)
    for rtype, domain in (("Condition", "MH"), ("Procedure", "PR")):
        n = len(example[domain])
        assert (counts[rtype]["read"], counts[rtype]["converted"], counts[rtype]["skipped"]) == (2 * n, n, n)
    assert len(report) == 0
