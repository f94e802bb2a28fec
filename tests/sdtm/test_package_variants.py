"""A sponsor's SDTM package that is legal but unusual is converted as it is, with a note, never a crash: a blank
XPT variable label. Each package is made here, small, with pyreadstat (the XPT writer SAS users meet)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pyreadstat
from click.testing import CliRunner
from lxml import etree

from msc_interop import api
from msc_interop.cli import main
from msc_interop.sdtm.define import xsd_errors

CREATED = "2026-01-01T00:00:00"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "mappings" / "schema" / "external" / "dataset-json-1.1" / "dataset.schema.json"

DM_LABELS = {"STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
             "SUBJID": "Subject Identifier for the Study", "RFSTDTC": "Subject Reference Start Date/Time",
             "SEX": "Sex"}
AE_LABELS = {"STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
             "AESEQ": "Sequence Number", "AETERM": "Reported Term for the Adverse Event",
             "AEDECOD": "Dictionary-Derived Term", "AESTDTC": "Start Date/Time of Adverse Event"}


def _dm() -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["S1", "S1"], "DOMAIN": ["DM", "DM"], "USUBJID": ["S1-01", "S1-02"],
                         "SUBJID": ["01", "02"], "RFSTDTC": ["2014-01-02", "2014-01-05"], "SEX": ["F", "M"]})


def _ae() -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["S1", "S1"], "DOMAIN": ["AE", "AE"], "USUBJID": ["S1-01", "S1-02"],
                         "AESEQ": [1.0, 1.0], "AETERM": ["HEADACHE", "NAUSEA"], "AEDECOD": ["Headache", "Nausea"],
                         "AESTDTC": ["2014-01-03", "2014-01-06"]})


def _xpt(path: Path, name: str, df: pd.DataFrame, labels: dict[str, str], label: str = "", **kwargs) -> None:
    pyreadstat.write_xport(df, str(path), table_name=name, file_label=label, file_format_version=5,
                           column_labels=[labels.get(c, "") for c in df.columns], **kwargs)


def _package(folder: Path, ae_labels: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True)
    _xpt(folder / "dm.xpt", "DM", _dm(), DM_LABELS, "Demographics")
    _xpt(folder / "ae.xpt", "AE", _ae(), AE_LABELS if ae_labels is None else ae_labels, "Adverse Events")
    return folder


def _item_label(define: Path, oid: str) -> str | None:
    item = next(i for i in etree.parse(str(define)).iter(f"{ODM}ItemDef") if i.get("OID") == oid)
    return item.findtext(f"{ODM}Description/{ODM}TranslatedText")


def test_blank_xpt_variable_label_is_kept_blank_and_described_in_define(tmp_path: Path) -> None:
    package = _package(tmp_path / "in", {**AE_LABELS, "AETERM": ""})  # XPT v5 allows a blank label
    result = api.to_sdtm(package, tmp_path / "out", formats=["xpt", "json"], created=CREATED, validate=False)
    # XPT: the package's blank label, as it is (pyreadstat reads a blank label as None)
    _, meta = pyreadstat.read_xport(str(tmp_path / "out" / "xpt" / "ae.xpt"), metadataonly=True)
    assert meta.column_names_to_labels["AETERM"] is None
    assert meta.column_names_to_labels["AEDECOD"] == "Dictionary-Derived Term"
    # Dataset-JSON: "" (the schema wants text: null failed it)
    doc = json.loads((tmp_path / "out" / "json" / "ae.json").read_text(encoding="utf-8"))
    assert {c["name"]: c["label"] for c in doc["columns"]}["AETERM"] == ""
    jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(doc)
    # define.xml describes every variable: the SDTMIG 3.4 AE label of AETERM, as for a blank dataset label
    for fmt in ("xpt", "json"):
        assert _item_label(tmp_path / "out" / fmt / "define.xml", "IT.AE.AETERM") == \
            "Reported Term for the Adverse Event"
    [note] = [n for n in result.rejects.notes if "blank label" in n]
    assert note.startswith("define.xml: ae.xpt gives 1 variable(s) a blank label")
    assert "AE.AETERM as 'Reported Term for the Adverse Event'" in note


def test_null_dataset_json_column_label_reads_as_blank(tmp_path: Path) -> None:
    api.to_sdtm(_package(tmp_path / "in"), tmp_path / "a", formats=["json"], created=CREATED, validate=False)
    path = tmp_path / "a" / "json" / "ae.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for column in doc["columns"]:
        if column["name"] == "AETERM":
            column["label"] = None  # what a blank XPT label used to become
    path.write_text(json.dumps(doc), encoding="utf-8")
    api.to_sdtm(tmp_path / "a" / "json", tmp_path / "b", formats=["json"], created=CREATED, validate=False)
    again = json.loads((tmp_path / "b" / "json" / "ae.json").read_text(encoding="utf-8"))
    assert {c["name"]: c["label"] for c in again["columns"]}["AETERM"] == ""
    assert _item_label(tmp_path / "b" / "json" / "define.xml", "IT.AE.AETERM") == "Reported Term for the Adverse Event"


def _cp1252_package(folder: Path) -> Path:
    """AETERM 'RÉACTION CUTANÉE' in Windows-1252: 16 bytes stored (AETERM's storage length 16), 18 in UTF-8."""
    ae = _ae().assign(AETERM=["HEADACHE", "REACTION CUTANEE"])
    _package(folder)
    _xpt(folder / "ae.xpt", "AE", ae, AE_LABELS, "Adverse Events")
    raw = (folder / "ae.xpt").read_bytes()
    assert raw.count(b"REACTION CUTANEE") == 1
    (folder / "ae.xpt").write_bytes(raw.replace(b"REACTION CUTANEE", "RÉACTION CUTANÉE".encode("cp1252")))
    return folder


def _define_length(define: Path, oid: str) -> int:
    item = next(i for i in etree.parse(str(define)).iter(f"{ODM}ItemDef") if i.get("OID") == oid)
    return int(item.get("Length"))


def test_define_length_is_what_the_files_beside_it_hold(tmp_path: Path) -> None:
    package = _cp1252_package(tmp_path / "in")
    for run, xpt_encoding, xpt_width in (("utf8", "utf-8", 18), ("as_read", None, 16)):
        out = tmp_path / run
        api.to_sdtm(package, out, formats=["xpt", "json"], created=CREATED, validate=False,
                    xpt_encoding=xpt_encoding)
        _, meta = pyreadstat.read_xport(str(out / "xpt" / "ae.xpt"), metadataonly=True)
        assert meta.variable_storage_width["AETERM"] == xpt_width  # UTF-8: two bytes for each É
        assert _define_length(out / "xpt" / "define.xml", "IT.AE.AETERM") == xpt_width
        doc = json.loads((out / "json" / "ae.json").read_text(encoding="utf-8"))
        assert {c["name"]: c.get("length") for c in doc["columns"]}["AETERM"] == 18  # Dataset-JSON is UTF-8
        assert _define_length(out / "json" / "define.xml", "IT.AE.AETERM") == 18
        assert _define_length(out / "json" / "define.xml", "IT.AE.AEDECOD") == 8  # ASCII: the package's length
    validation = api.to_sdtm(package, tmp_path / "checked", formats=["json"], created=CREATED).validation
    assert not [f for f in validation.findings if f.rule_id == "MSC-DEF-006"]


def test_validate_measures_define_length_in_the_encoding_the_xpt_is_in(tmp_path: Path) -> None:
    """MSC-DEF-006 on a package: 'RÉACTION CUTANÉE' is 16 bytes in the Windows-1252 XPT (to-sdtm writes it as
    it came, define.xml Length 16), 18 in UTF-8; the rule measures in the encoding the reader decided."""
    from msc_interop.validate import validate_paths

    api.to_sdtm(_cp1252_package(tmp_path / "in"), tmp_path / "out", formats=["xpt"], created=CREATED, validate=False)
    folder = tmp_path / "out" / "xpt"
    assert not [f for f in validate_paths([folder]).findings if f.rule_id == "MSC-DEF-006"]
    define = folder / "define.xml"
    tree = etree.parse(str(define))
    item = next(i for i in tree.iter(f"{ODM}ItemDef") if i.get("OID") == "IT.AE.AETERM")
    assert item.get("Length") == "16"
    item.set("Length", "15")  # one byte short: still found, in Windows-1252 bytes
    tree.write(str(define), xml_declaration=True, encoding="UTF-8")
    found = [(f.dataset_or_resource, f.row_or_entry, f.variable_or_path, f.message)
             for f in validate_paths([folder]).findings if f.rule_id == "MSC-DEF-006"]
    assert found == [("AE", 2, "AETERM", "AE.AETERM: define.xml Length 15 is shorter than the longest value "
                                         "(16 bytes in cp1252, first at row 2)")]


def test_to_sdtm_checks_define_length_in_the_encoding_it_wrote(tmp_path: Path) -> None:
    """to-sdtm's own validation of the Windows-1252 XPT it wrote (read back: its text is not ASCII) measures
    AETERM in cp1252 bytes as `validate` does: no MSC-DEF-006 at the define.xml Length 16 it wrote."""
    result = api.to_sdtm(_cp1252_package(tmp_path / "in"), tmp_path / "out", formats=["xpt"], created=CREATED)
    assert not [f.message for f in result.validation.findings if f.rule_id == "MSC-DEF-006"]


def test_define_length_of_a_unicode_file_is_counted_in_utf8_without_a_byte_order_mark(tmp_path: Path) -> None:
    """validate --encoding utf-8-sig of a CSV folder: AETERM 'RÉACTION CUTANÉE' is 18 UTF-8 bytes, the Length
    define.xml states when the XPT is written in UTF-8; the BOM the codec would put before every value is no byte
    of the value (the old count gave 21 and a false MSC-DEF-006)."""
    out = tmp_path / "out"
    api.to_sdtm(_cp1252_package(tmp_path / "in"), out, formats=["xpt", "csv"], created=CREATED, validate=False,
                xpt_encoding="utf-8")
    (out / "csv" / "define.xml").write_bytes((out / "xpt" / "define.xml").read_bytes())
    result = CliRunner().invoke(main, ["validate", str(out / "csv"), "--encoding", "utf-8-sig", "--report",
                                       str(tmp_path / "report.json")])
    assert result.exit_code in (0, 1), result.output  # (the small package's own errors: not the point here)
    found = json.loads((tmp_path / "report.json").read_text())["findings"]
    assert [f for f in found if f["rule_id"] == "MSC-SDTM-003"]  # the report holds the folder's findings
    assert not [f for f in found if f["rule_id"] == "MSC-DEF-006"]


DEF = "{http://www.cdisc.org/ns/def/v2.1}"
DEFINE_XSD = REPO / "mappings" / "schema" / "external" / "define-xml-2.1" / "cdisc-definexml-2.1.0" / "define2-1-0.xsd"


def test_package_that_states_no_sdtmig_version_is_not_given_one(tmp_path: Path) -> None:
    package = _package(tmp_path / "in")  # no define.xml, no TS: no SDTMIG version stated anywhere
    result = api.to_sdtm(package, tmp_path / "a", formats=["xpt", "json"], created=CREATED, validate=False)
    for fmt in ("xpt", "json"):
        define = etree.parse(str(tmp_path / "a" / fmt / "define.xml"))
        assert xsd_errors(define, DEFINE_XSD) == []
        mdv = next(define.iter(f"{ODM}MetaDataVersion"))
        assert mdv.get("OID") == "MDV.S1.SDTMIG.UNSTATED"
        assert "SDTMIG not stated by the package" in mdv.get("Description")
        [ig] = [s for s in define.iter(f"{DEF}Standard") if s.get("Type") == "IG"]
        # Define-XML 2.1 requires a Version: the one the data were checked against, said to be no statement
        assert ig.get("Version") == "3.4" and ig.get(f"{DEF}CommentOID") == "COM.SDTMIG.NOT-STATED"
        [comment] = [c for c in define.iter(f"{DEF}CommentDef") if c.get("OID") == "COM.SDTMIG.NOT-STATED"]
        assert "states no SDTMIG version" in comment.findtext(f"{ODM}Description/{ODM}TranslatedText")
        assert not [s for s in define.iter(f"{DEF}Standard") if s.get("Type") == "CT"]
    doc = json.loads((tmp_path / "a" / "json" / "ae.json").read_text(encoding="utf-8"))
    assert doc["metaDataVersionOID"] == "MDV.S1.SDTMIG.UNSTATED"
    assert any(n.startswith("define.xml: the package states no SDTMIG version") and "UNSTATED" in n
               for n in result.rejects.notes)
    # the define.xml written is no statement either when the output is converted again
    api.to_sdtm(tmp_path / "a" / "json", tmp_path / "b", formats=["json"], created=CREATED, validate=False)
    again = json.loads((tmp_path / "b" / "json" / "ae.json").read_text(encoding="utf-8"))
    assert again["metaDataVersionOID"] == "MDV.S1.SDTMIG.UNSTATED"


def test_package_stating_its_version_in_ts_keeps_it(tmp_path: Path) -> None:
    package = _package(tmp_path / "in")
    ts = pd.DataFrame({"STUDYID": ["S1"], "DOMAIN": ["TS"], "TSSEQ": [1.0], "TSPARMCD": ["SDTIGVER"],
                       "TSPARM": ["SDTM IG Version"], "TSVAL": ["3.2"]})
    _xpt(package / "ts.xpt", "TS", ts, {}, "Trial Summary")
    api.to_sdtm(package, tmp_path / "a", formats=["json"], created=CREATED, validate=False)
    define = etree.parse(str(tmp_path / "a" / "json" / "define.xml"))
    [ig] = [s for s in define.iter(f"{DEF}Standard") if s.get("Type") == "IG"]
    assert ig.get("Version") == "3.2" and ig.get(f"{DEF}CommentOID") is None
    assert json.loads((tmp_path / "a" / "json" / "ae.json").read_text())["metaDataVersionOID"] == "MDV.S1.SDTMIG.3.2"


CM_LABELS = {"STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
             "CMSEQ": "Sequence Number", "CMTRT": "Reported Name of Drug, Med, or Therapy"}


def _cm_parts(folder: Path, members: tuple[str, str]) -> Path:
    """CM in two files, cm1.xpt (2 rows, subject 01) and cm2.xpt (1 row, subject 02), XPT members `members`."""
    package = _package(folder)
    one = pd.DataFrame({"STUDYID": ["S1"] * 2, "DOMAIN": ["CM"] * 2, "USUBJID": ["S1-01"] * 2, "CMSEQ": [1.0, 2.0],
                        "CMTRT": ["ASPIRIN", "IBUPROFEN"]})
    two = pd.DataFrame({"STUDYID": ["S1"], "DOMAIN": ["CM"], "USUBJID": ["S1-02"], "CMSEQ": [1.0],
                        "CMTRT": ["PARACETAMOL"]})
    _xpt(package / "cm1.xpt", members[0], one, CM_LABELS, "Concomitant Medications")
    _xpt(package / "cm2.xpt", members[1], two, CM_LABELS, "Concomitant Medications")
    return package


def test_two_files_of_one_dataset_are_refused_without_telling_to_drop_one(tmp_path: Path) -> None:
    package = _cm_parts(tmp_path / "in", ("CM", "CM"))
    run = CliRunner().invoke(main, ["to-sdtm", str(package), "-o", str(tmp_path / "out"), "--created", CREATED])
    assert run.exit_code == 2, run.output
    assert "cm1.xpt (2 rows) and cm2.xpt (1 row) both hold dataset CM" in run.output
    assert "keep one" not in run.output and "combine the files into one CM" in run.output
    assert "split dataset (CM and up to two more characters" in run.output
    # validate does not pass over the second file in silence
    findings = api.validate([package]).findings
    [second] = [f for f in findings if f.rule_id == "MSC-IO-001"]
    assert second.file.endswith("cm2.xpt") and second.dataset_or_resource == "CM" and second.severity == "error"
    assert "as cm1.xpt does, and its rows are not checked" in second.message and "keep one" not in second.message


def test_the_advice_works_two_files_named_as_split_datasets_are_read_whole(tmp_path: Path) -> None:
    package = _cm_parts(tmp_path / "in", ("CM1", "CM2"))  # what the refusal asks for
    result = api.to_sdtm(package, tmp_path / "out", formats=["json"], created=CREATED, validate=False)
    assert sorted(p.name for p in (tmp_path / "out" / "json").glob("cm*.json")) == ["cm1.json", "cm2.json"]
    assert result.study["CM1"]["CMTRT"].tolist() == ["ASPIRIN", "IBUPROFEN"]
    assert result.study["CM2"]["CMTRT"].tolist() == ["PARACETAMOL"]


def _sas_dates_package(folder: Path) -> Path:
    """AESTDTC a SAS date-time (DATETIME20.), AEENDTC a number with no format, ASTDT (not SDTM) a SAS date."""
    package = _package(folder)
    # SAS counts seconds (date-times) and days (dates) from 1960-01-01: hand-checked,
    # 2014-01-03T13:45:30 = 19726 days * 86400 + 49530 s = 1704375930 s; 2014-01-11 = 19734 days
    ae = _ae().drop(columns=["AESTDTC"]).assign(AESTDTC=[1704375930.0, float("nan")], AEENDTC=[19734.0, float("nan")],
                                                ASTDT=[19726.0, 19729.0])
    _xpt(package / "ae.xpt", "AE", ae, {**AE_LABELS, "AEENDTC": "End Date/Time of Adverse Event",
                                        "ASTDT": "Analysis Start Date"}, "Adverse Events",
         variable_format={"AESTDTC": "DATETIME20", "ASTDT": "DATE9"})
    return package


def test_sas_numeric_dates_are_written_as_iso_8601_text_alike_in_every_file(tmp_path: Path) -> None:
    package = _sas_dates_package(tmp_path / "in")
    result = api.to_sdtm(package, tmp_path / "out", formats=["xpt", "json"], created=CREATED, validate=False)
    data, meta = pyreadstat.read_xport(str(tmp_path / "out" / "xpt" / "ae.xpt"))
    assert data["AESTDTC"].tolist() == ["2014-01-03T13:45:30", ""]  # a T, not a space: ISO 8601 as SDTM has it
    assert data["ASTDT"].tolist() == ["2014-01-03", "2014-01-06"]
    assert data["AEENDTC"].tolist() == ["19734", ""]  # no date format: the number as text, not a guessed date
    types = meta.readstat_variable_types
    assert {types[c] for c in ("AESTDTC", "AEENDTC", "ASTDT")} == {"string"}
    widths = meta.variable_storage_width
    assert (widths["AESTDTC"], widths["AEENDTC"], widths["ASTDT"]) == (19, 5, 10)
    doc = json.loads((tmp_path / "out" / "json" / "ae.json").read_text(encoding="utf-8"))
    columns = {c["name"]: c for c in doc["columns"]}
    assert [(columns[c]["dataType"], columns[c]["length"]) for c in ("AESTDTC", "AEENDTC", "ASTDT")] == \
        [("string", 19), ("string", 5), ("string", 10)]
    for fmt in ("xpt", "json"):
        items = {i.get("Name"): i for i in etree.parse(str(tmp_path / "out" / fmt / "define.xml")).iter(f"{ODM}ItemDef")
                 if i.get("OID", "").startswith("IT.AE.")}
        assert items["AESTDTC"].get("DataType") == "datetime"
        assert (items["AEENDTC"].get("DataType"), items["AEENDTC"].get("Length")) == ("text", "5")
        assert (items["ASTDT"].get("DataType"), items["ASTDT"].get("Length")) == ("text", "10")
    notes = [n for n in result.rejects.notes if n.startswith("ae.xpt: AE.")]
    assert notes[0] == ("ae.xpt: AE.AESTDTC is a SAS numeric date/time (format DATETIME20.); read and written as "
                        "ISO 8601 text (e.g. '2014-01-03T13:45:30'), as SDTM has dates")
    assert any(n.startswith("ae.xpt: AE.AEENDTC is numeric with no SAS date format") for n in notes)
    assert any(n.startswith("ae.xpt: AE.ASTDT is a SAS numeric date/time (format DATE9.)") for n in notes)


def test_validate_reports_a_numeric_dtc_variable_with_its_sas_format(tmp_path: Path) -> None:
    found = [f for f in api.validate([_sas_dates_package(tmp_path / "in")]).findings if f.rule_id == "MSC-XPT-006"]
    assert [(f.dataset_or_resource, f.variable_or_path, f.value, f.severity) for f in found] == [
        ("AE", "AESTDTC", "DATETIME20.", "error"), ("AE", "AEENDTC", "", "error")]  # ASTDT is no --DTC
    assert "AE.AESTDTC is numeric in the XPT file (SAS format DATETIME20.)" in found[0].message
    assert "(SAS format none)" in found[1].message
    clean = _package(tmp_path / "clean")  # character --DTC: no finding
    assert not [f for f in api.validate([clean]).findings if f.rule_id == "MSC-XPT-006"]
