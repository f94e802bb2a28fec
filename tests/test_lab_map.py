"""--lab-map: a site's local codes and LOINCs -> LBTESTCD, LBSPEC, LBMETHOD, unit; checked, named errors, and
winning over the built-in lab table in from-fhir, to-fhir and to-sdtm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from msc_interop import api, mappings
from msc_interop.cli import main
from msc_interop.errors import InputError
from msc_interop.fhir import read_fhir
from msc_interop.fhir.resources.lab.write import catalogue_loinc
from msc_interop.lab_map import load_lab_map

DOCS = Path(__file__).resolve().parents[1] / "docs"
LOCAL = "https://lab.example-hospital.org/codes"


def _observation(i: int, codings: list[dict[str, str]], value: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": codings}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-05-02T08:00:00", "valueQuantity": value}


def _bundle(tmp_path: Path) -> Path:
    entries = [{"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-01-01"},
               _observation(1, [{"system": LOCAL, "code": "GLU-S"}], {"value": 5.4}),          # no unit: map's
               _observation(2, [{"system": LOCAL, "code": "HB"}],
                            {"value": 12.5, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}),
               _observation(3, [{"system": "http://loinc.org", "code": "1994-3"}],
                            {"value": 1.2, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}),
               _observation(4, [{"system": "https://other.example/codes", "code": "CRP-HS"}],
                            {"value": 3, "unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"})]
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                   "entry": [{"resource": r} for r in entries]}))
    return path


@pytest.mark.parametrize("name", ["lab-map.example.yaml", "lab-map.example.csv"])
def test_documented_examples_load(name: str) -> None:
    rows = load_lab_map(DOCS / name)
    assert [(r.code, r.testcd) for r in rows] == [("GLU-S", "GLUC"), ("HB", "HGB"), ("1994-3", "CAION"),
                                                  ("CRP-HS", "CRP")]
    assert (rows[0].system, rows[0].specimen, rows[0].method, rows[0].unit) == (LOCAL, "SERUM", "HEXOKINASE",
                                                                                "mmol/L")


def test_from_fhir_places_local_codes_with_the_map(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    study, report = read_fhir([bundle])
    # without the map GLU-S, HB and CRP-HS are unknown local codes: carried (not dropped) under sponsor-defined
    # test codes made from the code itself (GLU-S -> GLUS: first word + initial; CRP-HS -> CRPH)
    assert report.n_rejected_records == 0
    assert sorted(study["LB"]["LBTESTCD"]) == ["CAION", "CRPH", "GLUS", "HB"]
    assert any("SPONSOR-DEFINED" in n and f"{LOCAL}|GLU-S -> GLUS (GLU-S)" in n for n in report.notes)
    with mappings.lab_map_installed(load_lab_map(DOCS / "lab-map.example.yaml")):
        study, report = read_fhir([bundle])
    assert report.n_rejected_records == 0
    lb = study["LB"].set_index("LBTESTCD")
    assert (lb.loc["GLUC", "LBORRESU"], lb.loc["GLUC", "LBSTRESN"], lb.loc["GLUC", "LBSPEC"],
            lb.loc["GLUC", "LBMETHOD"]) == ("mmol/L", 5.4, "SERUM", "HEXOKINASE")   # unit and specimen of the map
    assert (lb.loc["HGB", "LBSTRESN"], lb.loc["HGB", "LBSTRESU"]) == (125.0, "g/L")
    assert lb.loc["CAION", "LBSPEC"] == "BLOOD"      # the map's row for 1994-3 wins over the built-in table
    assert lb.loc["CRP", "LBMETHOD"] == "IMMUNOTURBIDIMETRY"   # no system in the map: any system matches
    assert mappings.site_map() == ()                 # installed only for the block


def test_the_map_overrides_the_built_in_loinc(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("tests:\n  - {code: '2345-7', testcd: GLUC, specimen: PLASMA}\n", encoding="utf-8")
    with mappings.lab_map_installed(load_lab_map(path)):
        assert mappings.lab_code_hit(["2345-7"]).specimen == "PLASMA"
        assert catalogue_loinc("GLUC", "mg/dL", "PLASMA") == "2345-7"
    assert mappings.lab_code_hit(["2345-7"]).specimen == "SERUM OR PLASMA"


def test_to_fhir_writes_the_sites_loinc(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("code,system,testcd,loinc\nWBC-1,https://lab.example/c,WBC,26464-8\n", encoding="utf-8")
    assert catalogue_loinc("WBC", "10^9/L", "") == "6690-2"
    with mappings.lab_map_installed(load_lab_map(path)):
        assert catalogue_loinc("WBC", "10^9/L", "") == "26464-8"


def test_to_sdtm_accepts_the_sites_codes_as_test_names(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("tests:\n  - {code: 'LEUKO-ABS', testcd: WBC}\n", encoding="utf-8")
    with mappings.lab_map_installed(load_lab_map(path)):
        assert mappings.lab_alias_map()["LEUKO-ABS"] == "WBC"
    assert "LEUKO-ABS" not in mappings.lab_alias_map()


def test_a_unit_spelling_is_taken_as_its_cdisc_unit(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("code,testcd,unit\nHB,HGB,g/dl\n", encoding="utf-8")
    assert load_lab_map(path)[0].unit == "g/dL"


@pytest.mark.parametrize(("name", "text", "words"), [
    ("bad_test.yaml", "tests:\n  - {code: X1, testcd: GLUC}\n  - {code: X2, testcd: NOTATEST}\n",
     ("bad_test.yaml row 2 of tests field testcd", "'NOTATEST' is not a CDISC LBTESTCD term")),
    ("no_test.yaml", "tests:\n  - {code: X1, specimen: BLOOD}\n",
     ("no_test.yaml row 1 of tests", "'testcd' is a required property")),
    ("bad_unit.csv", "code,testcd,unit\nX1,GLUC,mmol/L\nX2,GLUC,furlongs\n",
     ("bad_unit.csv line 3 field unit", "'furlongs' is not a unit of mappings/units.yaml")),
    ("bad_column.csv", "code,testcode\nX1,GLUC\n", ("bad_column.csv line 1", "unknown column(s) 'testcode'")),
    ("twice.csv", "code,testcd\nX1,GLUC\nX1,HGB\n", ("twice.csv line 3 field code", "mapped twice (also line 2)")),
    ("bad_spec.yaml", "tests:\n  - {code: X1, testcd: GLUC, specimen: BLUD}\n",
     ("row 1 of tests field specimen", "'BLUD' is not a CDISC SPECTYPE term")),
])
def test_errors_name_file_row_and_field(tmp_path: Path, name: str, text: str, words: tuple[str, ...]) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_lab_map(path)
    for w in words:
        assert w in str(err.value)


def test_cli_from_fhir_with_a_bad_lab_map_exits_2_naming_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("tests:\n  - {code: GLU-S, testcd: GLUCOSE}\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["from-fhir", str(_bundle(tmp_path)), "-o", str(tmp_path / "out"),
                                    "--lab-map", str(bad)])
    assert res.exit_code == 2, res.output
    assert "map.yaml row 1 of tests field testcd" in res.output and "GLUCOSE" in res.output


def test_cli_from_fhir_with_the_example_map_converts_everything(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["from-fhir", str(_bundle(tmp_path)), "-o", str(tmp_path / "out"),
                                    "--format", "csv", "--lab-map", str(DOCS / "lab-map.example.csv")])
    assert res.exit_code == 0, res.output
    result = api.from_fhir([_bundle(tmp_path)], tmp_path / "out2", formats=["csv"],
                           lab_map=DOCS / "lab-map.example.csv")
    assert len(result.study["LB"]) == 4 and result.rejects.n_rejected_records == 0


def test_hl7_example_f204_local_creatinine_code_is_placed_with_a_lab_map(shared_dir: Path, tmp_path: Path) -> None:
    """HL7's Observation-f204 codes creatinine only with the hospital's own code (AUMC 20005)."""
    path = tmp_path / "aumc.csv"
    path.write_text("code,system,testcd,specimen\n20005,https://intranet.aumc.nl/labtestcodes,CREAT,SERUM\n",
                    encoding="utf-8")
    f204 = shared_dir / "external" / "fhir-examples" / "r4" / "Observation-f204.json"
    with mappings.lab_map_installed(load_lab_map(path)):
        study, report = read_fhir([f204])
    row = study["LB"].iloc[0]
    # 122 umol/L, reference 64-104 -> HIGH; umol/L is the standard unit of CREAT
    assert (row["LBTESTCD"], row["LBORRES"], row["LBORRESU"], row["LBSTRESN"], row["LBSPEC"], row["LBNRIND"]) == (
        "CREAT", "122", "umol/L", 122.0, "SERUM", "HIGH")
    assert report.n_rejected_records == 0
