"""Item 3 of issue 14: a domain msc-interop has no mapping for (QS, a custom XX) passes through to-sdtm format
conversion with every variable, label, order, length and type kept, and to-fhir names what it cannot carry
with its record count (warning and rejects.json notes), never dropping it silently."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pandas as pd
import pyreadstat
import pytest

from msc_interop import api

CREATED = "2026-01-01T00:00:00"


def _dataset(name: str, label: str, columns: list[tuple[str, str, str, int | None]], rows: list[list]) -> dict:
    cols = [{"itemOID": f"IT.{name}.{n}", "name": n, "label": lab, "dataType": t, **({"length": ln} if ln else {})}
            for n, lab, t, ln in columns]
    return {"datasetJSONCreationDateTime": CREATED, "datasetJSONVersion": "1.1.0", "fileOID": f"T.{name}",
            "studyOID": "STDY.T", "metaDataVersionOID": "MDV.T", "itemGroupOID": f"IG.{name}", "records": len(rows),
            "name": name, "label": label, "columns": cols, "rows": rows}


QS = _dataset("QS", "Questionnaires", [
    ("STUDYID", "Study Identifier", "string", 8), ("DOMAIN", "Domain Abbreviation", "string", 2),
    ("USUBJID", "Unique Subject Identifier", "string", 12), ("QSSEQ", "Sequence Number", "integer", None),
    ("QSTESTCD", "Question Short Name", "string", 8), ("QSTEST", "Question Name", "string", 40),
    ("QSCAT", "Category of Question", "string", 20), ("QSORRES", "Finding in Original Units", "string", 10),
    ("QSSTRESN", "Numeric Finding in Standard Units", "float", None),
    ("VISITNUM", "Visit Number", "float", None), ("QSDTC", "Date/Time of Finding", "string", 10)],
    [["T1", "QS", "T1-001", 1, "SLEDAI1", "SLEDAI-2K Seizure", "SLEDAI-2K", "0", 0.0, 1.0, "2009-06-01"],
     ["T1", "QS", "T1-001", 2, "SLEDAI2", "SLEDAI-2K Psychosis", "SLEDAI-2K", "8", 8.0, 1.0, "2009-06"]])
XX = _dataset("XX", "Sponsor Custom Findings", [
    ("STUDYID", "Study Identifier", "string", 8), ("DOMAIN", "Domain Abbreviation", "string", 2),
    ("USUBJID", "Unique Subject Identifier", "string", 12), ("XXSEQ", "Sequence Number", "integer", None),
    ("XXZZ", "A sponsor variable, long label text", "string", 33), ("XXN", "Sponsor number", "float", None)],
    [["T1", "XX", "T1-001", 1, "first value", 1.5], ["T1", "XX", "T1-002", 1, "", None]])
DM = _dataset("DM", "Demographics", [
    ("STUDYID", "Study Identifier", "string", 8), ("DOMAIN", "Domain Abbreviation", "string", 2),
    ("USUBJID", "Unique Subject Identifier", "string", 12), ("SUBJID", "Subject Identifier for the Study",
                                                             "string", 4),
    ("RFSTDTC", "Subject Reference Start Date/Time", "string", 10), ("SITEID", "Study Site Identifier",
                                                                        "string", 3)],
    [["T1", "DM", "T1-001", "001", "2009-06-02", "01"], ["T1", "DM", "T1-002", "002", "2009-06-05", "01"]])


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("other") / "sdtm"
    folder.mkdir()
    for ds in (DM, QS, XX):
        (folder / f"{ds['name'].lower()}.json").write_text(json.dumps(ds), encoding="utf-8")
    return folder


def test_qs_and_custom_domain_go_json_to_xpt_to_json_with_every_attribute(package: Path, tmp_path: Path) -> None:
    api.to_sdtm(package, tmp_path / "x", formats=["xpt"], created=CREATED, validate=False)
    for ds in (QS, XX):
        df, meta = pyreadstat.read_xport(str(tmp_path / "x" / "xpt" / f"{ds['name'].lower()}.xpt"))
        assert list(df.columns) == [c["name"] for c in ds["columns"]]
        assert meta.column_names_to_labels == {c["name"]: c["label"] for c in ds["columns"]}
        assert meta.file_label == ds["label"]
        for c in ds["columns"]:
            if c["dataType"] == "string":  # XPT keeps the stated length of every character variable
                assert meta.variable_storage_width[c["name"]] == c["length"], c["name"]
            else:
                assert meta.readstat_variable_types[c["name"]] == "double", c["name"]
        assert df.iloc[0].tolist()[:3] == ds["rows"][0][:3]
    api.to_sdtm(tmp_path / "x" / "xpt", tmp_path / "j", formats=["json"], created=CREATED, validate=False)
    for ds in (QS, XX):
        back = orjson.loads((tmp_path / "j" / "json" / f"{ds['name'].lower()}.json").read_bytes())
        assert [(c["name"], c["label"], c["dataType"], c.get("length")) for c in back["columns"]] == [
            (c["name"], c["label"], c["dataType"], c.get("length")) for c in ds["columns"]]
        assert back["label"] == ds["label"]
        theirs = pd.DataFrame(ds["rows"]).astype(object).fillna("")
        ours = pd.DataFrame(back["rows"]).astype(object).fillna("")
        assert ours.astype(str).values.tolist() == theirs.astype(str).values.tolist()


def test_to_fhir_lists_what_it_cannot_carry_with_counts(package: Path, tmp_path: Path) -> None:
    result, _ = api.to_fhir(package, tmp_path, validate=False, timezone="Asia/Shanghai")
    assert result.not_written == {"QS": 2, "XX": 2}
    assert "not written to FHIR (counted in rejects.json notes): QS 2 record(s), XX 2 record(s)" in result.warnings
    notes = orjson.loads((tmp_path / "rejects.json").read_bytes())["notes"]
    assert "QS: 2 record(s) not written to FHIR (no FHIR mapping for the dataset)" in notes
    assert "XX: 2 record(s) not written to FHIR (no FHIR mapping for the dataset)" in notes
