"""Report files: what is written, byte-for-byte reproducible, self-contained HTML, Markdown with its figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from msc_interop.errors import UnknownFormatError
from msc_interop.summary import Options, _build, render, summarize


@pytest.fixture(scope="module")
def report(example_study, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("report")
    return out, summarize(example_study, out)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_files_written(report):
    out, result = report
    names = set(_files(out))
    assert {"summary.html", "summary.md", "csv/lab_stats.csv", "csv/ae_infusion.csv", "csv/data_issues.csv",
            "figures/lab_hematology.svg", "figures/lab_chemistry.svg", "figures/lab_tumor_markers.svg"} <= names
    assert len([n for n in names if n.startswith("csv/")]) == len(result.tables) == 28  # VS, EG, MH, CXR, CM, DS too
    assert sorted(str(p.relative_to(out)) for p in result.paths) == sorted(names)
    assert not [n for n in names if n.endswith(".part")]
    assert result.footnotes["lab_stats"] and result.titles["lab_shift"].startswith("Shift from baseline")


def test_same_study_byte_identical_outputs(example_study, report, tmp_path):
    out, _ = report
    summarize(example_study, tmp_path)
    first, second = _files(out), _files(tmp_path)
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs"


def test_svg_has_no_date_and_fixed_ids(report):
    out, _ = report
    svg = (out / "figures" / "lab_hematology.svg").read_text(encoding="utf-8")
    assert "<dc:date>" not in svg and "<svg" in svg
    assert "Platelets (PLAT)" in svg  # text kept as text (svg.fonttype none)


def test_html_is_self_contained(report):
    out, _ = report
    html = (out / "summary.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html)  # no external file or URL
    assert html.count('<img alt="') == 3 and html.count("data:image/svg+xml;base64,") == 3
    assert "Table 1: Study" in html and "Shift from baseline" in html and "5 min after the start" in html


def test_markdown_tables_and_figure_links(report):
    out, _ = report
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "| Characteristic | Category | UC-MSC 1x10^6 cells/kg IV on Days 0 and 7 (N=9) |" in md
    assert "| Sex | Female | 8 (88.9%) |" in md
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        assert (out / link).is_file()
    assert "> 1 result(s) of numeric tests are not numbers (LBSTRESN empty)" in md  # the '<2' footnote


def test_long_listings_are_cut_in_reports_but_complete_in_csv(pilot_study, tmp_path):
    s = _build(pilot_study, Options())  # no figures needed to check the Markdown cut
    md = render.markdown(s)
    assert "First 200 of 1583 rows shown; the CSV file exposure_listing.csv holds them all." in md
    render.write_csvs(s.tables, tmp_path)
    assert (tmp_path / "exposure_listing.csv").read_text().count("\n") == 1584  # header + every row


def test_unknown_format_is_refused(example_study, tmp_path):
    with pytest.raises(UnknownFormatError, match="pdf"):
        summarize(example_study, tmp_path, formats=["csv", "pdf"])
    assert not any(tmp_path.iterdir())
