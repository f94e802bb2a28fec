"""Render the summary: one CSV per table, a Markdown report, one self-contained HTML report.

Renderers see only the computed summary (tables, titles, footnotes, figures), never options or the input. Output is
byte-for-byte reproducible: no timestamps, fixed ordering, SVG figures made deterministic in figures.py. The HTML
embeds its figures as data: URIs and needs no network or other file, so it opens offline.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from msc_interop.atomic import write_bytes_atomic
from msc_interop.summary._common import LISTING_ROWS_SHOWN
from msc_interop.summary.figures import FigureOut

SECTIONS: list[tuple[str, list[str]]] = [
    ("Study and subjects", ["study", "populations", "population_listing", "demographics", "disposition",
                            "ds_disposition"]),
    ("Exposure", ["exposure_summary", "exposure_schedule", "exposure_listing"]),
    ("Adverse events", ["ae_overview", "ae_soc_pt", "ae_characteristics", "ae_infusion", "ae_listing",
                        "ae_pretreatment"]),
    ("Laboratory safety", ["lab_stats", "lab_change", "lab_range", "lab_shift", "@figures", "lab_abnormal_listing"]),
    ("Vital signs", ["vs_stats", "vs_change"]),
    ("ECG", ["ecg_qtc", "ecg_abnormal"]),
    ("Medical history and chest X-ray", ["mh_soc_pt", "cxr_visits"]),
    ("Concomitant medications", ["cm_by_class"]),
    ("Data handling", ["data_issues"]),
]
LISTINGS = frozenset({"exposure_listing", "ae_listing", "lab_abnormal_listing", "population_listing",
                      "ae_pretreatment"})


@dataclass
class Report:
    """What the renderers draw: the computed tables with their titles and footnotes, highlights, figures."""

    studyid: str
    title: str
    tables: dict[str, pd.DataFrame]
    titles: dict[str, str]
    footnotes: dict[str, list[str]]
    highlights: list[str]
    figures: list[FigureOut] = field(default_factory=list)

CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:24px auto;max-width:1200px;color:#222;
font-size:13px;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:2px solid #345;padding-bottom:3px;margin-top:32px}
h3{font-size:14px;margin:22px 0 6px}
table{border-collapse:collapse;margin:4px 0 6px;font-size:12px}
th,td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#e8eef4}tr:nth-child(even) td{background:#f7f9fb}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.notes{font-size:11.5px;color:#444;margin:2px 0 10px;padding-left:18px}
.glance{background:#f2f7f2;border:1px solid #bcd;padding:8px 12px 8px 26px}
figure{margin:12px 0 20px}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:11.5px;color:#444;margin-top:4px}nav ol{columns:2}
"""


def sections_for(names: Sequence[str], figures: bool = False) -> list[tuple[str, list[str]]]:
    """The report's sections holding any of these tables (or the figures); a table no section names goes to a
    last "Other tables" section, so that a table a summary module adds is never computed but left unrendered."""
    present = set(names)
    out = [(title, group) for title, group in SECTIONS
           if present.intersection(group) or (figures and "@figures" in group)]
    placed = {n for _, group in SECTIONS for n in group}
    other = [n for n in names if n not in placed]
    return out + ([("Other tables", other)] if other else [])


def table_number(names: Sequence[str]) -> dict[str, int]:
    order = [n for _, group in SECTIONS for n in group if n in names]
    order += [n for n in names if n not in order]
    return {n: i + 1 for i, n in enumerate(order)}


def write_csvs(tables: dict[str, pd.DataFrame], folder: Path) -> list[Path]:
    paths = []
    for name in sorted(tables):
        path = folder / f"{name}.csv"
        write_bytes_atomic(path, tables[name].to_csv(index=False, lineterminator="\n").encode("utf-8"))
        paths.append(path)
    return paths


def _shown(name: str, df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if name in LISTINGS and len(df) > LISTING_ROWS_SHOWN:
        return df.head(LISTING_ROWS_SHOWN), (f"First {LISTING_ROWS_SHOWN} of {len(df)} rows shown; the CSV file "
                                             f"{name}.csv holds them all.")
    return df, ""


def _cell(v: object) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return str(v)


# --- Markdown -------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(df: pd.DataFrame) -> str:
    if df.columns.empty:
        return "_(no rows)_\n"
    head = "| " + " | ".join(_md_escape(str(c)) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_md_escape(_cell(v)) for v in row) + " |" for row in df.itertuples(index=False)]
    if not body:
        body = ["| " + " | ".join(["_none_"] + [""] * (len(df.columns) - 1)) + " |"]
    return "\n".join([head, sep, *body]) + "\n"


def markdown(summary: Report, figure_dir: str = "figures") -> str:
    nums = table_number(list(summary.tables))
    out = [f"# Safety summary: {summary.studyid}", ""]
    if summary.title:
        out += [f"_{summary.title}_", ""]
    out += ["## At a glance", ""] + [f"- {h}" for h in summary.highlights] + [""]
    for section, names in sections_for(list(summary.tables), bool(summary.figures)):
        out += [f"## {section}", ""]
        for name in names:
            if name == "@figures":
                for f in summary.figures:
                    out += [f"### Figure: {f.title}", "", f"![{f.title}]({figure_dir}/{f.name}.svg)", "",
                            f"_{f.caption}_", ""]
                continue
            if name not in summary.tables:
                continue
            df, cut = _shown(name, summary.tables[name])
            out += [f"### Table {nums[name]}: {summary.titles[name]}", "", _md_table(df)]
            notes = [*summary.footnotes.get(name, []), *([cut] if cut else [])]
            out += [f"> {n}  " for n in notes] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


# --- HTML -----------------------------------------------------------------------------------------------


_NUMERIC = re.compile(r"^(-|<?-?\d[\d.]*%?(, -?\d[\d.]*)?( \([\d.%-]+\))?)$")  # counts, n (%), mean (SD)


def _html_table(df: pd.DataFrame) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            txt = _cell(v)
            cls = ' class="n"' if isinstance(v, int) or _NUMERIC.match(txt) else ""
            cells.append(f"<td{cls}>{esc(txt)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows = [f'<tr><td colspan="{max(1, len(df.columns))}"><em>none</em></td></tr>']
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


def html_report(summary: Report) -> str:
    esc = html.escape
    nums = table_number(list(summary.tables))
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Safety summary: {esc(summary.studyid)}</title>", f"<style>{CSS}</style></head><body>",
             f"<h1>Safety summary: {esc(summary.studyid)}</h1>"]
    if summary.title:
        parts.append(f"<p><em>{esc(summary.title)}</em></p>")
    parts.append('<h2 id="glance">At a glance</h2><ul class="glance">'
                 + "".join(f"<li>{esc(h)}</li>" for h in summary.highlights) + "</ul>")
    toc = []
    body = []
    for section, names in sections_for(list(summary.tables), bool(summary.figures)):
        sid = "s-" + section.lower().replace(" ", "-")
        body.append(f'<h2 id="{sid}">{esc(section)}</h2>')
        toc.append(f'<li><a href="#{sid}">{esc(section)}</a></li>')
        for name in names:
            if name == "@figures":
                for f in summary.figures:
                    data = base64.b64encode(f.svg.encode("utf-8")).decode("ascii")
                    body.append(f'<figure id="fig-{f.name}"><h3>Figure: {esc(f.title)}</h3>'
                                f'<img alt="{esc(f.title)}" src="data:image/svg+xml;base64,{data}">'
                                f"<figcaption>{esc(f.caption)}</figcaption></figure>")
                continue
            if name not in summary.tables:
                continue
            df, cut = _shown(name, summary.tables[name])
            body.append(f'<h3 id="t-{name}">Table {nums[name]}: {esc(summary.titles[name])}</h3>')
            body.append(_html_table(df))
            notes = [*summary.footnotes.get(name, []), *([cut] if cut else [])]
            if notes:
                body.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    parts.append("<nav><ol>" + "".join(toc) + "</ol></nav>")
    parts += body
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_figures(figures: Sequence[FigureOut], folder: Path) -> list[Path]:
    paths = []
    for f in figures:
        path = folder / f"{f.name}.svg"
        write_bytes_atomic(path, f.svg.encode("utf-8"))
        paths.append(path)
    return paths
