"""The SDTMIG version a study is checked against (--sdtmig, define.xml, TS SDTIGVER, else 3.4) and what it
changes: variables a later version added are not demanded of an older study."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyreadstat
import pytest

from msc_interop.cli import SDTMIG_CHOICES
from msc_interop.validate import validate_paths
from msc_interop.validate.standard import added_after, known_versions, normalise_version, resolve

PILOT = Path("external/cdisc-pilot-original")


def _xpt_edit(path: Path, edit) -> None:
    df, meta = pyreadstat.read_xport(str(path))
    df = edit(df)
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name=meta.table_name,
                           file_label=meta.file_label,
                           column_labels=[meta.column_names_to_labels.get(c, c) for c in df.columns])


def _copy(sdtm_output: Path, tmp: Path, *, define: bool = True) -> Path:
    folder = tmp / "xpt"
    shutil.copytree(sdtm_output / "xpt", folder)
    if not define:
        (folder / "define.xml").unlink()
    return folder


def _ts_version(version: str):
    def edit(df):
        df.loc[df["TSPARMCD"] == "SDTIGVER", "TSVAL"] = version
        return df
    return edit


def test_versions_as_written() -> None:
    assert normalise_version("3.1.2") == ("3.1.2", "")
    assert normalise_version("SDTM-IG 3.2")[0] == "3.2" and normalise_version("3.3.0")[0] == "3.3"
    version, remark = normalise_version("3.1.1")
    assert version == "3.1.2" and "older than any" in remark
    assert normalise_version("CDISC SDTM")[0] is None
    assert known_versions() == SDTMIG_CHOICES, "the --sdtmig choices are the versions with metadata"


def test_order_option_define_ts() -> None:
    define = ("3.1.2", "define.xml MetaDataVersion")
    assert resolve("3.4", define, "3.2")[0].sdtmig == "3.4"
    std, conflicts = resolve(None, define, "3.2")
    assert (std.sdtmig, std.source) == ("3.1.2", "define.xml MetaDataVersion")
    assert conflicts == ["define.xml MetaDataVersion says 3.1.2 but TS SDTIGVER says 3.2"]
    assert resolve(None, None, "3.3")[0].source == "TS TSPARMCD SDTIGVER"
    std = resolve(None, ("garbage", "define.xml X"), None)[0]
    assert std.sdtmig == "3.4" and "not an SDTMIG version" in std.remarks[0]


def test_later_variables_are_not_asked_of_an_older_study() -> None:
    assert added_after("3.2") == {"DM": {"ARMNRS", "ACTARMUD"}, "EG": {"EGLOBXFL"}, "LB": {"LBLOBXFL"},
                                  "RE": {"RELOBXFL"}, "VS": {"VSLOBXFL"}}
    assert added_after("3.4") == {}
    assert {"RFXSTDTC", "ACTARM"} <= added_after("3.1.2")["DM"]


@pytest.mark.parametrize(("ts", "fires"), [("3.4", True), ("3.2", False)])
def test_ts_version_decides_without_define(sdtm_output: Path, tmp_path: Path, ts: str, fires: bool) -> None:
    folder = _copy(sdtm_output, tmp_path, define=False)
    _xpt_edit(folder / "ts.xpt", _ts_version(ts))
    _xpt_edit(folder / "lb.xpt", lambda df: df.drop(columns="LBLOBXFL"))
    findings = validate_paths([folder]).findings
    missing = [f for f in findings if f.rule_id == "MSC-SDTM-003" and f.variable_or_path == "LBLOBXFL"]
    assert bool(missing) == fires
    notices = [f for f in findings if f.rule_id == "MSC-SDTM-025"]
    if ts == "3.2":
        [n] = notices
        assert "SDTMIG 3.2, from TS TSPARMCD SDTIGVER" in n.message and "LB: LBLOBXFL" in n.message
    else:
        assert notices == [], "3.4, msc-interop's default: nothing to say"


def test_define_and_ts_disagree(sdtm_output: Path, tmp_path: Path) -> None:
    folder = _copy(sdtm_output, tmp_path)  # our define.xml states SDTMIG 3.4
    _xpt_edit(folder / "ts.xpt", _ts_version("3.2"))
    findings = validate_paths([folder]).findings
    [w] = [f for f in findings if f.rule_id == "MSC-SDTM-026"]
    assert w.severity == "warning" and "says 3.4 but TS SDTIGVER says 3.2" in w.message
    assert "checked against SDTMIG 3.4" in w.message


def test_pilot_is_checked_as_3_1_2_from_its_define(shared_dir: Path) -> None:
    findings = validate_paths([shared_dir / PILOT]).findings
    [n] = [f for f in findings if f.rule_id == "MSC-SDTM-025"]
    assert 'SDTMIG 3.1.2, from define.xml MetaDataVersion def:StandardName="CDISC SDTM" ' \
           'def:StandardVersion="3.1.2"' in n.message
    asked = {(f.dataset_or_resource, f.variable_or_path) for f in findings if f.rule_id == "MSC-SDTM-003"}
    assert not asked & {("DM", "ARMNRS"), ("DM", "ACTARMUD"), ("TS", "TSVALCD"), ("TS", "TSVCDREF")}


def test_pilot_with_sdtmig_option(shared_dir: Path) -> None:
    findings = validate_paths([shared_dir / PILOT], sdtmig="3.4").findings
    asked = {(f.dataset_or_resource, f.variable_or_path) for f in findings if f.rule_id == "MSC-SDTM-003"}
    assert {("DM", "ARMNRS"), ("DM", "ACTARMUD"), ("TS", "TSVALCD")} <= asked
    [n] = [f for f in findings if f.rule_id == "MSC-SDTM-025"]
    assert "SDTMIG 3.4, from --sdtmig" in n.message
