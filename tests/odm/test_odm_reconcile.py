"""Reconciliation of an ODM export with rejects: per form, read = converted + rejected, the rejected records are
exactly the reject report's, and every reject names the export, a line and a reason."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE, REPO
from msc_interop import api

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
TEXT = EXPORT.read_text(encoding="utf-8")
NAME = "site01_export.odm.xml"


def messy_export() -> str:
    """Several kinds of problem at once: a bad CodedValue (subject 02 cascades), a lab value failing its DataType,
    an AE outcome not in its CodeList, an item the metadata does not define, and an item group the mapping
    leaves out (IG.FINDINGS, below)."""
    text = TEXT
    two = text.index('SubjectKey="02"')
    text = text[:two] + text[two:].replace('<ItemData ItemOID="IT.DM.SEX" Value="F"/>',
                                           '<ItemData ItemOID="IT.DM.SEX" Value="W"/>', 1)
    nine = text.index('SubjectKey="09"')
    text = text[:nine] + re.sub(r'(ItemOID="IT.LB.LBORNRHI" Value=")[^"]*', r"\g<1>n/a", text[nine:], count=1)
    good = '<ItemData ItemOID="IT.AE.AEOUT" Value="RECOVERED/RESOLVED"/>'
    assert good in text
    text = text.replace(good, '<ItemData ItemOID="IT.AE.AEOUT" Value="RESOLVED"/>', 1)
    return text.replace('<ItemData ItemOID="IT.LB.LBNAM"', '<ItemData ItemOID="IT.LB.X" Value="1"/>'
                        '<ItemData ItemOID="IT.LB.LBNAM"', 1)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, api.ConversionResult]:
    folder = tmp_path_factory.mktemp("reconcile")
    mapping = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    mapping["item_groups"] = [g for g in mapping["item_groups"] if g["item_group"] != "IG.FINDINGS"]
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    path = folder / NAME
    path.write_text(messy_export(), encoding="utf-8")
    out = folder / "out"
    return out, api.to_sdtm(path, out, formats=["csv"], created="2026-01-01T00:00:00", validate=False)


def test_read_equals_converted_plus_rejected_per_form(converted) -> None:
    _, result = converted
    rejects, study = result.rejects, result.study
    counts = {c.form: c for c in rejects.counts.values()}
    assert set(counts) == {"subjects", "exposures", "adverse_events", "labs", "vital_signs", "ecg",
                           "medical_history", "medications", "disposition"}
    for form, c in counts.items():
        assert c.read == c.converted + c.rejected, form
        assert c.rejected == len(rejects.rejected_rows(form)), form
    converted_rows = {"subjects": len(study["DM"]), "exposures": len(study["EX"]),
                      "adverse_events": len(study["AE"]), "labs": len(study["LB"]), "vital_signs": len(study["VS"]),
                      "ecg": int(study["EG"]["EGORRESU"].ne("").sum()),  # EG's intervals (not the INTP rows)
                      "medical_history": len(study["MH"]),
                      "medications": len(study["CM"]), "disposition": len(study["DS"])}
    assert converted_rows == {form: c.converted for form, c in counts.items()}
    # what was broken: subject 02 (1 + its 2 infusions + its labs), subject 09's lab, the one AE
    assert counts["subjects"].rejected == 1 and counts["exposures"].rejected == 2
    assert counts["adverse_events"].rejected == 1
    assert counts["labs"].rejected == 55 + 1
    assert counts["labs"].read == 494


def test_every_reject_names_the_export_a_line_and_a_reason(converted) -> None:
    _, result = converted
    rejects = result.rejects.sorted()
    assert len(rejects) > 50
    lines = TEXT.count("\n") + 2
    for r in rejects:
        assert r.file == NAME, r
        assert 0 < r.row <= lines, r
        assert r.reason.strip(), r
    forms = {r.form for r in rejects}
    assert forms == {"subjects", "exposures", "adverse_events", "labs", "vital_signs", "ecg", "medical_history",
                     "medications", "disposition", "odm"}
    # record rejects carry the OID path; the "odm" ones name an OID (the count is in the value)
    assert all("[at SubjectData[" in r.reason for r in rejects if r.form != "odm")
    n_findings_items = TEXT.count('<ItemData ItemOID="IT.FINDINGS.')
    assert {(r.field, r.value) for r in rejects if r.form == "odm"} == {
        ("ItemOID", "IT.LB.X"), ("IG.FINDINGS", f"{n_findings_items} ItemData")}


def test_reject_files_agree_with_the_report(converted) -> None:
    out, result = converted
    doc = json.loads((out / "rejects.json").read_text(encoding="utf-8"))
    assert {c["form"]: (c["read"], c["converted"], c["rejected"]) for c in doc["counts"]} == {
        c.form: (c.read, c.converted, c.rejected) for c in result.rejects.counts.values()}
    assert len(doc["rejects"]) == len(result.rejects.sorted())
    with open(out / "rejects.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(doc["rejects"])
    assert {row["file"] for row in rows} == {NAME}
    assert all(int(row["row"]) > 0 and row["reason"] for row in rows)
    assert any("not a CodedValue of CodeList CL.OUT" in row["reason"] for row in rows)
    assert doc["notes"][0].startswith(f"{NAME}: ODM S.MSC-SLE-2009/MDV.1: 9 subject(s)")
