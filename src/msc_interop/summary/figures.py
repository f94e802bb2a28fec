"""Laboratory figures: one figure per LBCAT, one panel per test: subject lines, mean +/- SD, reference range.

The kind of figure the seed paper shows for blood counts, liver function and tumor markers. SVG output is made
reproducible: a fixed ``svg.hashsalt`` (element ids), no date in the metadata, text kept as text (no glyph paths
whose ids could vary). Drawn through the object-oriented API (no pyplot state), so it is safe in a library.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from msc_interop.summary.labs import SPAGHETTI_CAP, LabResult, Panel

RC = {"svg.hashsalt": "msc-interop-summary", "svg.fonttype": "none", "font.size": 8,
      "font.family": "DejaVu Sans", "axes.titlesize": 9, "path.simplify": True}
NCOLS = 3
PANEL_W, PANEL_H = 3.6, 2.6  # inches per panel


@dataclass(frozen=True)
class FigureOut:
    name: str  # file stem, e.g. "lab_hematology"
    title: str
    caption: str
    svg: str


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "laboratory"


def lab_figures(res: LabResult) -> list[FigureOut]:
    by_cat: dict[str, list[Panel]] = {}
    for p in res.panels:
        by_cat.setdefault(p.category, []).append(p)
    return [_figure(cat, panels, res) for cat, panels in by_cat.items()]  # panels come in the tables' order


def _figure(category: str, panels: list[Panel], res: LabResult) -> FigureOut:
    ncols = min(NCOLS, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    crowded = max(len(p.labels) for p in panels) > 6  # many visits: slanted tick labels, more room below
    panel_h = PANEL_H + (0.5 if crowded else 0.0)
    width, height = PANEL_W * ncols, panel_h * nrows + 0.45
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height))
        FigureCanvasSVG(fig)
        # fixed margins in inches (a layout engine measures every text and doubles the drawing time)
        axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
            "left": 0.62 / width, "right": 1 - 0.12 / width, "top": 1 - 0.62 / height,
            "bottom": (0.95 if crowded else 0.5) / height, "wspace": 0.38, "hspace": 0.85 if crowded else 0.62})
        for ax, panel in zip(axes.flat, panels, strict=False):
            _panel(ax, panel, crowded)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        fig.suptitle(f"{category.title()}: individual subjects and mean \u00b1 SD by visit", fontsize=10,
                     y=1 - 0.12 / height)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    by_arm = any(p.arms for p in panels)
    colour = "thin lines in the arm's colour" if by_arm else "grey lines"
    lines = (f"{colour}: a deterministic sample of {SPAGHETTI_CAP} of {res.n_subjects} subjects (evenly spaced "
             "in USUBJID order), drawn to keep the figure legible" if res.sampled
             else f"{colour}: individual subjects (all)")
    ranges = [p.testcd for p in panels if p.other_ranges]
    means = ("coloured by treatment arm: each arm's mean \u00b1 SD at each visit (n of all arms under the axis label)"
             if by_arm else "black: mean \u00b1 SD at each visit (n under the axis label)")
    caption = (f"{category.title()}: {lines}; {means}; "
               "green band: reference range (LBSTNRLO-LBSTNRHI)")
    if ranges:
        caption += (f"; for {', '.join(ranges)} the ranges differ between subjects (e.g. by sex): the band shows "
                    "the most frequent range")
    return FigureOut(f"lab_{slug(category)}", f"{category.title()} over time", caption + ".", svg)


ARM_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _panel(ax, p: Panel, crowded: bool = False) -> None:
    x = np.arange(len(p.labels))
    if not (math.isnan(p.lo) and math.isnan(p.hi)):
        lo = 0.0 if math.isnan(p.lo) else p.lo
        hi = p.hi if not math.isnan(p.hi) else np.nanmax([np.nanmax(p.mean + np.nan_to_num(p.sd)), lo])
        ax.axhspan(lo, hi, color="#2ca02c", alpha=0.12, linewidth=0, zorder=0)
    if p.lines.size and p.arms:  # subject lines in their arm's colour, then each arm's mean +/- SD
        for i in range(len(p.arms)):
            rows = p.lines[p.line_arm == i]
            if rows.size:
                ax.plot(x, rows.T, color=ARM_COLORS[i % len(ARM_COLORS)], linewidth=0.6, alpha=0.25, zorder=1)
    elif p.lines.size:
        ax.plot(x, p.lines.T, color="#888888", linewidth=0.7, alpha=0.6, zorder=1)
    if p.arms:
        width = 0.12
        for i, (label, mean, sd) in enumerate(p.arms):
            off = (i - (len(p.arms) - 1) / 2) * width
            ax.errorbar(x + off, mean, yerr=np.nan_to_num(sd), color=ARM_COLORS[i % len(ARM_COLORS)], marker="o",
                        markersize=3, linewidth=1.3, capsize=2, zorder=3, label=label)
        ax.legend(fontsize=5.5, loc="upper left", frameon=False)
    else:
        ax.errorbar(x, p.mean, yerr=np.nan_to_num(p.sd), color="black", marker="o", markersize=3.5, linewidth=1.4,
                    capsize=3, zorder=3)
    ticks = [f"{lab}\nn={int(k)}" if not crowded else f"{lab} (n={int(k)})" for lab, k in zip(p.labels, p.n,
                                                                                               strict=True)]
    ax.set_xticks(x, ticks, fontsize=6.5, rotation=40 if crowded else 0, ha="right" if crowded else "center",
                  rotation_mode="anchor")
    ax.set_title(f"{p.test} ({p.testcd})", loc="left")
    ax.set_ylabel(p.unit or "value")
    ax.margins(x=0.05)
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
