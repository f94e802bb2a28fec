"""Non-ASCII text in XPT: study records with "Köln Labor" or a Chinese laboratory name convert (XPT in UTF-8, or
--xpt-encoding), with a note naming the record; only a value the chosen encoding cannot hold is refused."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.cli import main
from msc_interop.errors import OutputLimitError
from msc_interop.sdtm import xpt

CREATED = "2026-01-01T00:00:00"
NANJING = "南京鼓楼医院检验科"


def _records(tmp_path: Path, changes: dict[int, str]) -> Path:
    """The example study with lab_name changed on labs.csv rows {row (header = 1): value}."""
    folder = tmp_path / "records"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "labs.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row, value in changes.items():
        rows[row - 2]["lab_name"] = value
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return folder


def _lbnam(path: Path, encoding: str | None = None) -> list[str]:
    df, _ = pyreadstat.read_xport(str(path), **({"encoding": encoding} if encoding else {}))
    return df["LBNAM"].tolist()


def test_a_short_non_ascii_lab_name_is_written_in_every_format_with_a_note_naming_its_record(tmp_path: Path) -> None:
    run = CliRunner().invoke(main, ["to-sdtm", str(_records(tmp_path, {5: "Köln Labor"})), "-o",
                                    str(tmp_path / "out"), "--created", CREATED, "--no-validate"])
    assert run.exit_code == 0, run.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["csv", "json", "rejects.csv", "rejects.json",
                                                                     "xpt"]
    assert ("lb.xpt: LB.LBNAM has 1 non-ASCII value(s), e.g. 'Köln Labor' from labs.csv row 5, field lab_name "
            "(dataset LB row ") in run.output
    assert "written in UTF-8" in run.output
    assert "Köln Labor" in _lbnam(tmp_path / "out" / "xpt" / "lb.xpt")
    assert b"K\xc3\xb6ln Labor" in (tmp_path / "out" / "xpt" / "lb.xpt").read_bytes()


def test_chinese_text_is_kept_in_utf8_xpt(tmp_path: Path) -> None:
    result = api.to_sdtm(_records(tmp_path, {2: NANJING, 3: NANJING}), tmp_path / "out", created=CREATED,
                         validate=False)
    assert _lbnam(tmp_path / "out" / "xpt" / "lb.xpt").count(NANJING) == 2
    assert any("LB.LBNAM has 2 non-ASCII value(s)" in n and "labs.csv row 2, field lab_name" in n
               for n in result.rejects.notes)
    assert result.rejects.n_rejected_records == 0


def test_xpt_encoding_windows_1252_writes_its_bytes(tmp_path: Path) -> None:
    result = api.to_sdtm(_records(tmp_path, {5: "Köln Labor"}), tmp_path / "out", formats=["xpt"],
                         created=CREATED, validate=False, xpt_encoding="windows-1252")
    path = tmp_path / "out" / "xpt" / "lb.xpt"
    assert b"K\xf6ln Labor" in path.read_bytes() and b"K\xc3\xb6ln" not in path.read_bytes()
    assert "Köln Labor" in _lbnam(path, "cp1252")
    assert any("written in Windows-1252" in n for n in result.rejects.notes)


def test_an_encoding_that_cannot_hold_a_value_refuses_naming_it_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputLimitError) as info:
        api.to_sdtm(_records(tmp_path, {2: NANJING}), tmp_path / "out", created=CREATED, validate=False,
                    xpt_encoding="cp1252")
    (problem,) = info.value.problems
    assert "dataset LB, variable LBNAM: 1 value(s) that Windows-1252 cannot hold" in problem
    assert f"row 51 '{NANJING}' (from labs.csv row 2, field lab_name)" in problem  # LB sorted by subject, test
    assert "--xpt-encoding utf-8" in problem
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rejects.csv", "rejects.json"]


def test_lengths_and_encoding_of_a_package_are_kept_by_the_writer(tmp_path: Path) -> None:
    df = pd.DataFrame({"STUDYID": ["S1", "S1"], "DOMAIN": ["TS", "TS"], "TSSEQ": [1.0, 2.0],
                       "TSVAL": ["Alzheimer’s", "plain"]})
    path = tmp_path / "ts.xpt"
    xpt.write_conformed(df, "TS", path, encoding="cp1252", lengths={"STUDYID": 12, "TSVAL": 200},
                        labels={"TSVAL": "Parameter Value"}, label="")
    back, meta = pyreadstat.read_xport(str(path), encoding="cp1252")
    assert back["TSVAL"].tolist() == ["Alzheimer’s", "plain"] and back["STUDYID"].tolist() == ["S1", "S1"]
    assert meta.variable_storage_width == {"STUDYID": 12, "DOMAIN": 2, "TSSEQ": 8, "TSVAL": 200}
    assert b"Alzheimer\x92s" in path.read_bytes()


def test_an_sdtm_package_is_converted_without_msc_interops_derivations(tmp_path: Path) -> None:
    """Without ../shared: msc-interop's own XPT read back as a package gets a define.xml with no MethodDef,
    and its labels, order and lengths as the XPT states them (here: a label and the order changed by hand)."""
    from lxml import etree

    api.to_sdtm(EXAMPLE, tmp_path / "made", formats=["xpt"], created=CREATED, validate=False)
    dm_path = tmp_path / "made" / "xpt" / "dm.xpt"
    dm, meta = pyreadstat.read_xport(str(dm_path))
    order = [*reversed(dm.columns)]
    labels = {**meta.column_names_to_labels, "AGE": "Age at consent"}
    pyreadstat.write_xport(dm[order], str(dm_path), file_format_version=5, table_name="DM", file_label="DM",
                           column_labels=[labels[c] for c in order])
    (tmp_path / "made" / "xpt" / "define.xml").unlink()
    api.to_sdtm(tmp_path / "made" / "xpt", tmp_path / "again", formats=["json"], created=CREATED, validate=False)
    define = etree.parse(str(tmp_path / "again" / "json" / "define.xml"))
    text = etree.tostring(define, encoding="unicode")
    assert "MethodDef" not in text and "MethodOID" not in text and "STUDYID-SITEID-SUBJID" not in text
    ig = next(g for g in define.iter("{http://www.cdisc.org/ns/odm/v1.3}ItemGroupDef") if g.get("Name") == "DM")
    refs = [r.get("ItemOID") for r in ig.iter("{http://www.cdisc.org/ns/odm/v1.3}ItemRef")]
    assert refs == [f"IT.DM.{c}" for c in order]
    import orjson

    doc = orjson.loads((tmp_path / "again" / "json" / "dm.json").read_bytes())
    assert [c["name"] for c in doc["columns"]] == order and doc["label"] == "DM"
    assert {c["name"]: c["label"] for c in doc["columns"]}["AGE"] == "Age at consent"
