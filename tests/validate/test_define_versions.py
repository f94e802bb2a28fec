"""Define-XML 1.0, 2.0 and 2.1: told apart by their namespaces (mappings/define_xml.yaml), each read in its own
namespaces, only 2.1 checked against the XSD msc-interop ships (1.0 and 2.0 get a notice that no schema check ran),
and the described-but-not-shipped / shipped-but-not-described checks on all three.

The 1.0 and 2.0 documents are our own Define-XML 2.1 output moved into the older namespaces (and, for 1.0, with
the standard stated as MetaDataVersion attributes): what the readers must find is then known exactly."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from msc_interop.validate import validate_paths
from msc_interop.validate.define_versions import detect, stated_standard

PILOT = Path("external/cdisc-pilot-original")
NS = {"2.1": ("http://www.cdisc.org/ns/odm/v1.3", "http://www.cdisc.org/ns/def/v2.1"),
      "2.0": ("http://www.cdisc.org/ns/odm/v1.3", "http://www.cdisc.org/ns/def/v2.0"),
      "1.0": ("http://www.cdisc.org/ns/odm/v1.2", "http://www.cdisc.org/ns/def/v1.0")}


def _package(sdtm_output: Path, tmp: Path, version: str, *, drop_file: str = "", extra_file: str = "") -> Path:
    folder = tmp / f"define{version}"
    shutil.copytree(sdtm_output / "xpt", folder)
    text = (folder / "define.xml").read_text(encoding="utf-8")
    odm, def_ns = NS[version]
    text = text.replace(NS["2.1"][1], def_ns).replace(NS["2.1"][0], odm)
    if version in ("1.0", "2.0"):
        text = re.sub(r"\s*<def:Standards>.*?</def:Standards>", "", text, flags=re.S)
        text = text.replace('def:DefineVersion="2.1.0"', f'def:DefineVersion="{version}.0" def:StandardName="SDTM-IG" '
                                                          'def:StandardVersion="3.2"')
    (folder / "define.xml").write_text(text, encoding="utf-8")
    if drop_file:
        (folder / drop_file).unlink()
    if extra_file:  # a dataset define.xml does not describe (member name = file name)
        import pandas as pd
        import pyreadstat

        df = pd.DataFrame({"STUDYID": ["MSC-SLE-2009"], "DOMAIN": [extra_file[:2].upper()],
                           "USUBJID": ["MSC-SLE-2009-01-01"], "XXSEQ": [1.0], "XXTERM": ["x"]})
        pyreadstat.write_xport(df, str(folder / extra_file), file_format_version=5,
                               table_name=Path(extra_file).stem.upper())
    return folder


@pytest.mark.parametrize("version", ["1.0", "2.0", "2.1"])
def test_each_version_is_read_in_its_namespaces(sdtm_output: Path, tmp_path: Path, version: str) -> None:
    folder = _package(sdtm_output, tmp_path, version)
    tree = etree.parse(str(folder / "define.xml"))
    assert detect(tree).version == version
    report = validate_paths([folder])
    ids = Counter(f.rule_id for f in report.findings)
    assert "MSC-DEF-001" not in ids, "2.1 passes its XSD; 1.0 and 2.0 are not checked against the 2.1 one"
    assert "MSC-DEF-002" not in ids, "every dataset is described, in whatever namespace"
    assert ids.get("MSC-DEF-010", 0) == (0 if version == "2.1" else 1)
    if version != "2.1":
        [notice] = [f for f in report.findings if f.rule_id == "MSC-DEF-010"]
        assert notice.severity == "notice" and f"Define-XML {version}" in notice.message
        assert "NOT checked" in notice.message


@pytest.mark.parametrize("version", ["1.0", "2.0", "2.1"])
def test_shipped_and_described_checks_run_on_every_version(sdtm_output: Path, tmp_path: Path, version: str) -> None:
    folder = _package(sdtm_output, tmp_path, version, drop_file="tv.xpt", extra_file="xx.xpt")
    report = validate_paths([folder])
    found = {(f.rule_id, f.dataset_or_resource) for f in report.findings if f.rule_id in ("MSC-DEF-002",
                                                                                          "MSC-DEF-008")}
    assert ("MSC-DEF-008", "TV") in found, "described but not shipped"
    assert ("MSC-DEF-002", "XX") in found, "shipped but not described"


def test_unknown_namespace_is_an_error_naming_it(sdtm_output: Path, tmp_path: Path) -> None:
    folder = _package(sdtm_output, tmp_path, "2.1")
    path = folder / "define.xml"
    path.write_text(path.read_text(encoding="utf-8").replace(NS["2.1"][1], "http://www.cdisc.org/ns/def/v3.0"),
                    encoding="utf-8")
    [f] = [f for f in validate_paths([path]).findings if f.rule_id == "MSC-DEF-001"]
    assert f.severity == "error" and "not a Define-XML 1.0, 2.0 or 2.1 document" in f.message
    assert "def/v3.0" in f.message and "def/v2.0" in f.message


def test_standard_is_read_where_each_version_states_it(sdtm_output: Path, tmp_path: Path) -> None:
    for version, expected in (("2.1", "3.4"), ("2.0", "3.2"), ("1.0", "3.2")):
        tree = etree.parse(str(_package(sdtm_output, tmp_path / version, version) / "define.xml"))
        stated = stated_standard(tree, detect(tree))
        assert stated is not None and stated[0] == expected, (version, stated)
        assert "define.xml" in stated[1] and "line" in stated[1]


def test_partial_dates_fit_a_define_1_0_date(sdtm_output: Path, tmp_path: Path) -> None:
    """ODM 1.2 has no partialDate: a 1.0 document's "date" holds ISO 8601 dates of any precision; 2.x is strict."""
    import pyreadstat

    for version, fires in (("1.0", False), ("2.1", True)):
        folder = _package(sdtm_output, tmp_path / version, version)
        df, meta = pyreadstat.read_xport(str(folder / "dm.xpt"))
        df.loc[0, "BRTHDTC"] = "1961"
        pyreadstat.write_xport(df, str(folder / "dm.xpt"), file_format_version=5, table_name="DM",
                               column_labels=meta.column_labels)
        hits = [f for f in validate_paths([folder]).findings
                if f.rule_id == "MSC-DEF-005" and f.variable_or_path == "BRTHDTC"]
        assert bool(hits) == fires, (version, hits)


# --- the CDISC pilot (Define-XML 1.0) ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pilot_define_findings(shared_dir: Path):
    return [f for f in validate_paths([shared_dir / PILOT]).findings if f.rule_id.startswith("MSC-DEF")]


def test_pilot_define_1_0_describes_every_shipped_dataset(pilot_define_findings) -> None:
    ids = Counter(f.rule_id for f in pilot_define_findings)
    assert "MSC-DEF-002" not in ids and "MSC-DEF-001" not in ids and ids["MSC-DEF-010"] == 1
    not_shipped = sorted(f.dataset_or_resource for f in pilot_define_findings if f.rule_id == "MSC-DEF-008")
    assert not_shipped == ["DS", "LB", "MH", "QS", "RELREC", "SC", "SE", "SUPPDS", "SUPPLB", "VS"]


def test_pilot_define_real_defect_cmdose_declared_integer(pilot_define_findings) -> None:
    errors = [f for f in pilot_define_findings if f.severity == "error"]
    assert [(f.rule_id, f.dataset_or_resource, f.variable_or_path, f.value) for f in errors] == [
        ("MSC-DEF-005", "CM", "CMDOSE", "0.625")]
