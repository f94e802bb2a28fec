"""Converting an existing SDTM package between formats changes nothing: CDISC's pilot (XPT v5, Windows-1252
ts.xpt, Define-XML 1.0) XPT -> Dataset-JSON -> XPT keeps every cell (a number as SAS shows it: 15 significant
digits), label, variable order and length, and
CDISC's Dataset-JSON example package converts whole (DM.RACE "MULTIPLE" is a note, not a refusal) into
Dataset-JSON equal to CDISC's own. Skipped without ../shared."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from lxml import etree

from msc_interop import api
from msc_interop.cli import main
from msc_interop.sdtm.xpt_layout import RECORD

CREATED = "2026-01-01T00:00:00"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


@pytest.fixture(scope="module")
def cdisc_json(shared_dir: Path) -> Path:
    path = shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"
    if not path.is_dir():
        pytest.skip("CDISC's Dataset-JSON examples are not in ../shared/external")
    return path


@pytest.fixture(scope="module")
def pilot_round_trip(pilot: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(pilot -> json, json -> xpt with the default encoding, json -> xpt in Windows-1252)."""
    tmp = tmp_path_factory.mktemp("pilot")
    api.to_sdtm(pilot, tmp / "p1", formats=["json"], created=CREATED, validate=False)
    api.to_sdtm(tmp / "p1" / "json", tmp / "p2", formats=["xpt"], created=CREATED, validate=False)
    api.to_sdtm(tmp / "p1" / "json", tmp / "p3", formats=["xpt"], created=CREATED, validate=False,
                xpt_encoding="cp1252")
    return tmp / "p1" / "json", tmp / "p2" / "xpt", tmp / "p3" / "xpt"


def _read(path: Path, encoding: str | None = None) -> tuple[pd.DataFrame, object]:
    return pyreadstat.read_xport(str(path), **({"encoding": encoding} if encoding else {}))


def _assert_same_xpt(original: Path, written: Path, written_encoding: str | None = None) -> None:
    d1, m1 = _read(original, "cp1252")  # the pilot's text is Windows-1252 (ASCII in all but ts.xpt)
    d2, m2 = _read(written, written_encoding)
    for c in d1.columns:  # numbers come back as SAS shows them: 15 significant digits (CMDOSE 0.4, stored as the
        if pd.api.types.is_float_dtype(d1[c]):  # IBM pattern of 0.39999999999999997); whole numbers exact
            d1[c] = [v if v != v else float(f"{v:.15g}") for v in d1[c]]
    assert list(d2.columns) == list(d1.columns), original.name
    pd.testing.assert_frame_equal(d2, d1, check_exact=True, obj=original.name)
    assert m2.column_names_to_labels == m1.column_names_to_labels, original.name
    assert m2.variable_storage_width == m1.variable_storage_width, original.name
    assert (m2.file_label or "") == (m1.file_label or ""), original.name


def test_pilot_xpt_json_xpt_keeps_every_cell_label_order_and_length(pilot: Path, pilot_round_trip) -> None:
    _json, xpt_default, _xpt_cp1252 = pilot_round_trip
    originals = sorted(pilot.glob("*.xpt"))
    assert len(originals) == 12
    for original in originals:
        _assert_same_xpt(original, xpt_default / original.name)
    # the JSON in between already holds the pilot's own labels (SUPPDM, TS: not msc-interop's)
    ts = orjson.loads((pilot_round_trip[0] / "ts.json").read_bytes())
    assert ts["label"] == "" and [c["name"] for c in ts["columns"]][:3] == ["STUDYID", "DOMAIN", "TSSEQ"]
    assert {c["name"]: c.get("length") for c in ts["columns"]}["TSVAL"] == 200


def test_pilot_ts_written_back_in_windows_1252_has_the_original_bytes(pilot: Path, pilot_round_trip) -> None:
    _json, xpt_default, xpt_cp1252 = pilot_round_trip
    _assert_same_xpt(pilot / "ts.xpt", xpt_cp1252 / "ts.xpt", "cp1252")
    obs = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"
    original, again = (pilot / "ts.xpt").read_bytes(), (xpt_cp1252 / "ts.xpt").read_bytes()
    # everything after the headers (the rows) is byte for byte the pilot's: 0x92 apostrophes included
    assert again[again.index(obs) + RECORD:] == original[original.index(obs) + RECORD:]
    assert b"Alzheimer\x92s" in again
    # the default (UTF-8 from Dataset-JSON, which has no encoding to carry) reads the same with detection
    assert "Alzheimer\u2019s".encode() in (xpt_default / "ts.xpt").read_bytes()


def test_pilot_xpt_to_xpt_writes_ts_back_in_the_encoding_it_came_in(pilot: Path, tmp_path: Path) -> None:
    result = api.to_sdtm(pilot, tmp_path, formats=["xpt"], created=CREATED, validate=False)
    for original in sorted(pilot.glob("*.xpt")):
        _assert_same_xpt(original, tmp_path / "xpt" / original.name, "cp1252")
    assert any(n.startswith("ts.xpt: TS.TSVAL has 3 non-ASCII value(s)") and "written in Windows-1252" in n
               for n in result.rejects.notes)


def test_pilot_define_states_the_packages_version_and_no_msc_interop_derivation(pilot_round_trip) -> None:
    define = etree.parse(str(pilot_round_trip[0] / "define.xml"))
    stds = {s.get("Type"): s.get("Version") for s in define.iter(f"{DEF}Standard")}
    assert stds == {"IG": "3.1.2"}  # Define-XML 1.0 of the pilot: SDTM 3.1.2; it names no CT version
    text = etree.tostring(define, encoding="unicode")
    # the only methods are the pilot's own (its Define-XML 1.0 def:ComputationMethod), none of msc-interop's
    assert [m.get("OID") for m in define.iter(f"{ODM}MethodDef")] == ["COMPMETHOD.STUDY_DAY"]
    assert "STUDYID-SITEID-SUBJID" not in text
    # the pilot's own labels (the SDTMIG 3.1.2 EX.EXTRT label, not msc-interop's)
    ex_trt = next(i for i in define.iter(f"{ODM}ItemDef") if i.get("OID") == "IT.EX.EXTRT")
    assert ex_trt.findtext(f"{ODM}Description/{ODM}TranslatedText") == "Name of Actual Treatment"


def test_cdisc_example_package_converts_whole_and_its_json_equals_cdiscs(cdisc_json: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["to-sdtm", str(cdisc_json), "-o", str(tmp_path), "--format", "json",
                                    "--created", CREATED])
    assert run.exit_code in (0, 1), run.output
    assert "DM.RACE holds 'MULTIPLE', not a term of the non-extensible CDISC codelist RACE" in run.output
    header_differs: set[str] = set()
    originals = sorted(cdisc_json.glob("*.json"))
    assert len(originals) == 7
    for original in originals:
        theirs = orjson.loads(original.read_bytes())
        ours = orjson.loads((tmp_path / "json" / original.name).read_bytes())
        assert ours["rows"] == theirs["rows"], original.name
        assert ours["columns"] == theirs["columns"], original.name
        header_differs |= {k for k in set(theirs) | set(ours)
                           if k not in ("rows", "columns") and theirs.get(k) != ours.get(k)}
        assert ours["metaDataRef"] == theirs["metaDataRef"] == "define.xml", original.name  # (beside it, as theirs)
    # what says who wrote this file, when, and which define.xml describes it (msc-interop's, beside it)
    assert header_differs == {"datasetJSONCreationDateTime", "fileOID", "originator", "sourceSystem", "studyOID",
                              "metaDataVersionOID"}
    define = etree.parse(str(tmp_path / "json" / "define.xml"))
    stds = {s.get("Type"): s.get("Version") for s in define.iter(f"{DEF}Standard")}
    assert stds == {"IG": "3.3", "CT": "2020-12-18"}
    race = next(c for c in define.iter(f"{ODM}CodeList") if c.get("OID") == "CL.RACE")
    multiple = next(i for i in race if i.get("CodedValue") == "MULTIPLE")
    assert multiple.find(f"{ODM}Alias") is None and multiple.get(f"{DEF}ExtendedValue") is None


def test_a_decimal_column_of_a_dataset_json_package_is_written_back_as_decimal(cdisc_json: Path,
                                                                               tmp_path: Path) -> None:
    """Dataset-JSON 1.1 carries a "decimal" variable as JSON strings (its digits kept from any float rounding):
    a package stating LBSTRESN decimal is written back decimal, each value a string of the same number (it was
    written as a float column before)."""
    package = tmp_path / "in"
    package.mkdir()
    for name in ("dm.json", "lb.json"):
        (package / name).write_bytes((cdisc_json / name).read_bytes())
    lb = orjson.loads((package / "lb.json").read_bytes())
    at = [c["name"] for c in lb["columns"]].index("LBSTRESN")
    lb["columns"][at].update({"dataType": "decimal", "targetDataType": "decimal"})
    numbers = [row[at] for row in lb["rows"]]
    for row in lb["rows"]:
        row[at] = None if row[at] is None else repr(float(row[at]))
    (package / "lb.json").write_bytes(orjson.dumps(lb))
    api.to_sdtm(package, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    written = orjson.loads((tmp_path / "out" / "json" / "lb.json").read_bytes())
    column = next(c for c in written["columns"] if c["name"] == "LBSTRESN")
    assert (column["dataType"], column.get("targetDataType")) == ("decimal", "decimal")
    values = [row[at] for row in written["rows"]]
    assert all(v is None or isinstance(v, str) for v in values)
    assert [None if v is None else float(v) for v in values] == numbers
    assert any(v is not None for v in values)
