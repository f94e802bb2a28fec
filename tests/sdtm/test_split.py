"""to-sdtm --max-file-size: an XPT dataset over the limit is split the SDTMIG 4.1.7 way (LB -> LBCH, LBHE, LBTM
by LBCAT), the pieces put together are the whole LB cell for cell, define.xml describes each piece, and
`validate` finds in the pieces what it finds in the whole LB.

The bundled study's lb.xpt is 131,360 bytes (26 variables, 494 rows: 180 CHEMISTRY, 135 HEMATOLOGY,
179 TUMOR MARKERS), so a 60 KB limit splits it in three and leaves the other datasets but EG and VS (which
have no --CAT) whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from lxml import etree

from msc_interop import api
from msc_interop.cli import main
from msc_interop.errors import MscInteropError
from msc_interop.records.reader import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.define import xsd_errors
from msc_interop.sdtm.split import parse_size, suffixes, xpt_size
from msc_interop.study import Study
from msc_interop.validate import validate_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "example_study"
XSD = Path("external/xsd/define-xml-2.1/cdisc-definexml-2.1.0/define2-1-0.xsd")
CREATED = "2026-01-01T00:00:00"
LIMIT = 60_000
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "xlink": "http://www.w3.org/1999/xlink"}
PIECES = {"LBCH": "CHEMISTRY", "LBHE": "HEMATOLOGY", "LBTM": "TUMOR MARKERS"}  # mappings/split_datasets.yaml


def _run(out: Path, limit: int | None = None, validate: bool = False) -> api.ConversionResult:
    return api.to_sdtm(EXAMPLE, out, formats=["xpt"], created=CREATED, max_file_size=limit, validate=validate)


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    _run(out)
    return out / "xpt"


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> tuple[Path, api.ConversionResult]:
    out = tmp_path_factory.mktemp("split")
    return out / "xpt", _run(out, LIMIT, validate=True)


def test_parse_size_decimal_and_binary_units():
    assert parse_size("5GB") == 5_000_000_000
    assert parse_size("500MB") == 500_000_000
    assert parse_size("1mb") == 1_000_000
    assert parse_size("64KiB") == 65_536
    assert parse_size("1000") == 1000
    for bad in ("5 parsecs", "", "-1GB", "0"):
        with pytest.raises(MscInteropError, match="--max-file-size"):
            parse_size(bad)


def test_size_estimate_is_the_size_written(whole):
    _, meta = pyreadstat.read_xport(str(whole / "lb.xpt"), metadataonly=True)
    widths = dict(meta.variable_storage_width)
    assert xpt_size(494, widths) == (whole / "lb.xpt").stat().st_size == 131_360


def test_fallback_suffixes_are_stable_and_distinct():
    # CHEMISTRY is CH by the mapping file; CHOLESTEROL PANEL would also be CH: first letter + 1
    got = suffixes(["CHOLESTEROL PANEL", "CHEMISTRY", "", "ZINC STUDY"])
    assert got == {"CHEMISTRY": "CH", "CHOLESTEROL PANEL": "C1", "": "NC", "ZINC STUDY": "ZI"}


def test_lb_split_into_pieces_under_the_limit(split, whole):
    folder, _ = split
    assert not (folder / "lb.xpt").exists()
    for name, cat in PIECES.items():
        path = folder / f"{name.lower()}.xpt"
        assert path.stat().st_size <= LIMIT
        df, meta = pyreadstat.read_xport(str(path))
        assert meta.table_name == name
        assert set(df["DOMAIN"]) == {"LB"}
        assert set(df["LBCAT"]) == {cat}
    # the datasets under the limit are written as they were
    assert (folder / "dm.xpt").read_bytes() == (whole / "dm.xpt").read_bytes()


def test_pieces_together_are_the_whole_lb_cell_for_cell(split, whole):
    folder, _ = split
    full, full_meta = pyreadstat.read_xport(str(whole / "lb.xpt"))
    parts = []
    for name in PIECES:
        df, meta = pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"))
        assert list(df.columns) == list(full.columns)
        assert meta.column_names_to_labels == full_meta.column_names_to_labels
        assert meta.variable_storage_width == full_meta.variable_storage_width
        assert list(df.dtypes) == list(full.dtypes)
        parts.append(df.assign(_piece=name))
    together = pd.concat(parts, ignore_index=True)
    # each piece keeps the records in their LB order: put back by (USUBJID, LBSEQ), the whole LB's order
    together = together.sort_values(["USUBJID", "LBSEQ"], kind="stable").drop(columns="_piece")
    assert full["LBSEQ"].is_unique or full.duplicated(["USUBJID", "LBSEQ"]).sum() == 0
    pd.testing.assert_frame_equal(together.reset_index(drop=True), full)


def test_define_has_one_item_group_per_piece_and_is_xsd_valid(split, shared_dir):
    folder, _ = split
    doc = etree.parse(str(folder / "define.xml"))
    assert xsd_errors(doc, shared_dir / XSD) == []
    assert doc.xpath("//odm:ItemGroupDef[@Name='LB']", namespaces=NS) == []
    for name, cat in PIECES.items():
        (ig,) = doc.xpath(f"//odm:ItemGroupDef[@Name='{name}']", namespaces=NS)
        assert ig.get("Domain") == "LB" and ig.get("SASDatasetName") == name and ig.get("OID") == f"IG.{name}"
        assert ig.get(f"{{{NS['def']}}}Structure") == "One record per lab test per time point per visit per subject"
        assert ig.findtext("odm:Description/odm:TranslatedText", namespaces=NS) == \
            f"Laboratory Test Results - {cat.title()}"
        (leaf,) = ig.findall("def:leaf", NS)
        assert leaf.get(f"{{{NS['xlink']}}}href") == f"{name.lower()}.xpt"
        assert ig.get(f"{{{NS['def']}}}ArchiveLocationID") == leaf.get("ID") == f"LF.{name}"


def _comparable(folder: Path) -> Counter:
    """Findings without what names the file or row (a piece's rows are numbered within the piece)."""
    rows = validate_paths([folder]).findings
    return Counter((f.rule_id, f.severity, "LB" if f.dataset_or_resource in PIECES else f.dataset_or_resource,
                    f.usubjid, f.seq, f.variable_or_path, f.value) for f in rows)


def test_pieces_validate_as_one_lb(split, whole):
    folder, result = split
    assert _comparable(folder) == _comparable(whole)
    assert result.validation is not None and result.validation.counts_by_severity().get("error", 0) == 0


def test_a_category_too_big_alone_is_reported(tmp_path):
    result = _run(tmp_path, 45_000)
    notes = "\n".join(result.rejects.notes)
    # LBCH 180 rows and LBTM 179 rows stay over 45,000 bytes; LBHE (39,120 bytes) does not
    assert "LBCH (LBCAT 'CHEMISTRY', 180 rows): the XPT file is 50,720 bytes, over --max-file-size 45,000" in notes
    assert "LBTM (LBCAT 'TUMOR MARKERS', 179 rows)" in notes and "LBHE (" not in notes
    assert (tmp_path / "xpt" / "lbch.xpt").stat().st_size == 50_720


def test_two_runs_are_byte_identical(split, tmp_path):
    folder, _ = split
    _run(tmp_path, LIMIT)
    for path in sorted(folder.iterdir()):
        assert (tmp_path / "xpt" / path.name).read_bytes() == path.read_bytes(), path.name


def test_supp_is_split_with_its_parents(tmp_path):
    study, _ = build_study(read_records(EXAMPLE))
    lb = study["LB"]
    supp = pd.DataFrame({"STUDYID": lb["STUDYID"], "RDOMAIN": "LB", "USUBJID": lb["USUBJID"], "IDVAR": "LBSEQ",
                         "IDVARVAL": lb["LBSEQ"].astype(int).astype(str), "QNAM": "LBCLSIG",
                         "QLABEL": "Clinically Significant", "QVAL": lb["LBCAT"].str[:2], "QORIG": "Assigned",
                         "QEVAL": ""})
    with_supp = Study(study.meta, {**study.datasets, "SUPPLB": supp})
    api.write_sdtm(with_supp, tmp_path, ["xpt"], True, CREATED, max_file_size=LIMIT)
    folder = tmp_path / "xpt"
    assert not (folder / "supplb.xpt").exists()
    for name, cat in PIECES.items():
        parent, _ = pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"))
        qual, meta = pyreadstat.read_xport(str(folder / f"supp{name.lower()}.xpt"))
        assert meta.table_name == f"SUPP{name}"
        assert set(qual["RDOMAIN"]) == {"LB"} and set(qual["QVAL"]) == {cat[:2]}
        assert list(zip(qual["USUBJID"], qual["IDVARVAL"].astype(int), strict=True)) == \
            list(zip(parent["USUBJID"], parent["LBSEQ"].astype(int), strict=True))
    doc = etree.parse(str(folder / "define.xml"))
    (ig,) = doc.xpath("//odm:ItemGroupDef[@Name='SUPPLBCH']", namespaces=NS)
    assert ig.get("Domain") == "LB"
    assert doc.xpath("//odm:ItemGroupDef[@Name='SUPPLB']", namespaces=NS) == []


def test_a_split_package_read_back_keeps_its_pieces(split, tmp_path, shared_dir):
    folder, _ = split
    api.to_sdtm(folder, tmp_path, formats=["xpt"], created=CREATED, validate=False)
    doc = etree.parse(str(tmp_path / "xpt" / "define.xml"))
    assert xsd_errors(doc, shared_dir / XSD) == []
    for name in PIECES:
        assert (tmp_path / "xpt" / f"{name.lower()}.xpt").read_bytes() == (folder / f"{name.lower()}.xpt").read_bytes()
        (ig,) = doc.xpath(f"//odm:ItemGroupDef[@Name='{name}']", namespaces=NS)
        assert ig.get("Domain") == "LB" and ig.get(f"{{{NS['def']}}}IsNonStandard") is None


def test_cli_option_splits_and_refuses_a_bad_size(tmp_path):
    res = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path), "--format", "xpt", "--no-validate",
                                    "--max-file-size", "60KB"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "xpt").glob("lb*.xpt")) == ["lbch.xpt", "lbhe.xpt", "lbtm.xpt"]
    assert "VS: the XPT file is 80,240 bytes, over --max-file-size 60,000" in res.output
    bad = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path / "b"), "--max-file-size", "5XB"])
    assert bad.exit_code == 2 and "--max-file-size '5XB'" in bad.output


def test_a_supp_over_the_limit_is_named(pilot, tmp_path):
    """The pilot's suppae.xpt is 1,051,440 bytes and suppdm.xpt 1,056,720 (ls -l of the package): at a limit
    between the two only SUPPDM is named; neither can be split (DM and AE have no --CAT), and both are written."""
    result = api.to_sdtm(pilot, tmp_path, formats=["xpt"], created=CREATED, max_file_size=1_052_000,
                         validate=False)
    notes = "\n".join(result.rejects.notes)
    assert ("SUPPDM: the XPT file is 1,056,720 bytes, over --max-file-size 1,052,000; a SUPP-- dataset is split "
            "only with its parent domain's pieces; written whole") in notes
    assert "SUPPAE:" not in notes
    assert (tmp_path / "xpt" / "suppdm.xpt").stat().st_size == 1_056_720


def test_wrote_lines_count_the_records_of_each_piece(tmp_path):
    """The docstring's counts (180 CHEMISTRY, 135 HEMATOLOGY, 179 TUMOR MARKERS, counted by hand from labs.csv's
    tests and their LBCAT) on the "wrote" line of each piece, as for every other dataset."""
    out = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path), "--format", "xpt", "--created",
                                    CREATED, "--max-file-size", str(LIMIT), "--no-validate"]).output
    assert f"wrote {tmp_path / 'xpt' / 'lbch.xpt'} (180 records)" in out
    assert f"wrote {tmp_path / 'xpt' / 'lbhe.xpt'} (135 records)" in out
    assert f"wrote {tmp_path / 'xpt' / 'lbtm.xpt'} (179 records)" in out


@pytest.mark.parametrize("declared", [{}, {"AELLTCD": "text"}])
def test_the_size_bound_never_skips_a_dataset_over_the_limit(declared):
    """split.may_exceed lets the split skip measuring a dataset that cannot reach the limit; a package that holds a
    number as $200 text (AELLTCD) makes the file larger than numbers at 8 bytes would: the bound must know it."""
    from msc_interop.sdtm.package import DatasetLayout
    from msc_interop.sdtm.split import frame_widths, may_exceed, xpt_size

    n = 1000
    df = pd.DataFrame({"STUDYID": ["S"] * n, "AESEQ": range(n), "AELLTCD": [10019211.0] * n})
    lay = DatasetLayout(source="ae.xpt", columns=tuple(df.columns), labels={}, label=None,
                        lengths={"STUDYID": 200, **({"AELLTCD": 200} if declared else {})}, types=declared)
    size = xpt_size(n, frame_widths(df, lay, "utf-8"))
    if declared:  # the number stored as 200 bytes of text
        assert size > xpt_size(n, {"STUDYID": 200, "AESEQ": 8, "AELLTCD": 8})
    for limit in (size - 1, size, size + 1):
        assert may_exceed(df, lay, limit) or size <= limit  # never "cannot exceed" for a file over the limit
    assert not may_exceed(df, lay, 10 * size)  # far under the limit: not measured
