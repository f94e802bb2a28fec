"""The HTML report renders in headless Chromium: its DOM holds every table and the embedded figures, a screenshot
is a real page, and an embedded SVG figure is drawn. Skipped where Chromium is not installed.

CI (Debian): ``apt-get update && apt-get install -y --no-install-recommends chromium``.
``MSC_UPDATE_SCREENSHOT=1 pytest tests/summary/test_chromium.py`` also refreshes docs/summary-screenshot.png: the
report of the bundled study split into two arms (test_arms.two_arm_study), its "At a glance", TEAE overview with the
arms side by side, and blood-count figure coloured by arm.
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from msc_interop.atomic import write_bytes_atomic
from msc_interop.summary import summarize

from .test_arms import HIGH, LOW, two_arm_study

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium': "
                                                         "apt-get install -y --no-install-recommends chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
DOCS_PNG = Path(__file__).resolve().parents[2] / "docs" / "summary-screenshot.png"
BAND = (228, 243, 228)  # the figures' reference-range band (#2ca02c at alpha 0.12 on white)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180, check=True)


def _pixels(png: Path) -> np.ndarray:
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(png) as im:
        return np.asarray(im.convert("RGB"))


def _band_rows(px: np.ndarray) -> np.ndarray:
    near = (np.abs(px.astype(int) - np.array(BAND)) <= 6).all(axis=2)
    return np.flatnonzero(near.sum(axis=1) > 100)


@pytest.fixture(scope="module")
def rendered(example_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    result = summarize(example_study, out, formats=["html"])
    return out / "summary.html", result


@pytest.fixture(scope="module")
def rendered_arms(example_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("html-arms")
    summarize(two_arm_study(example_study), out, formats=["html"])
    return out / "summary.html"


def test_arms_side_by_side_in_the_browser(rendered_arms, tmp_path):
    dom = _chromium(tmp_path / "profile", "--dump-dom", rendered_arms.as_uri()).stdout
    overview = re.search(r'<h3 id="t-ae_overview">.*?</table>', dom, flags=re.S).group(0)
    heads = re.findall(r"<th>(.*?)</th>", overview)
    assert heads[:3] == ["Category", f"{HIGH} (N=5) n (%)", f"{HIGH} events"]
    assert f"{LOW} (N=4) n (%)" in heads and "Total (N=9) n (%)" in heads


def test_dom_has_every_table_and_the_figures(rendered, tmp_path):
    page, result = rendered
    dom = _chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert dom.count("<table>") == len(result.tables) == 28  # every table, VS, ECG, MH, CXR, CM and DS included
    for title in result.titles.values():
        assert html.escape(title, quote=False) in dom, title
    imgs = re.findall(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,', dom)
    assert imgs == ["Hematology over time", "Chemistry over time", "Tumor Markers over time"]
    assert "5 min after the start of administration 1" in dom


def test_screenshot_is_a_real_page(rendered, tmp_path):
    page, _ = rendered
    png = tmp_path / "shot.png"
    _chromium(tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,2000", page.as_uri())
    assert png.stat().st_size > 20_000
    px = _pixels(png)
    assert px.shape == (2000, 1280, 3)
    packed = (px[..., 0].astype(np.int32) << 16) | (px[..., 1].astype(np.int32) << 8) | px[..., 2]
    colours, counts = np.unique(packed, return_counts=True)
    assert len(colours) > 50 and counts.max() / counts.sum() < 0.97  # text, tables, shading: not one colour
    dark = (px.sum(axis=2) < 200).sum(axis=1)
    assert (dark > 0).sum() > 500  # text on many rows of the page


def test_embedded_figure_is_drawn(rendered, tmp_path):
    page, _ = rendered
    text = page.read_text(encoding="utf-8")
    figure = re.search(r'<figure id="fig-lab_hematology">.*?</figure>', text, flags=re.S).group(0)
    one = tmp_path / "figure.html"
    one.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{figure}</body></html>',
                   encoding="utf-8")
    png = tmp_path / "figure.png"
    _chromium(tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,700", one.as_uri())
    assert len(_band_rows(_pixels(png))) > 100  # the shaded normal range of the panels is on screen


@pytest.mark.skipif(not os.environ.get("MSC_UPDATE_SCREENSHOT"), reason="set MSC_UPDATE_SCREENSHOT=1 to refresh "
                                                                        "docs/summary-screenshot.png")
def test_update_docs_screenshot(rendered_arms, tmp_path):
    from PIL import Image

    text = rendered_arms.read_text(encoding="utf-8")
    head = text[:text.index('<nav>')]  # title, "At a glance"
    parts = [re.search(rf'<h3 id="t-{name}">.*?</table>', text, flags=re.S).group(0)
             for name in ("populations", "ae_overview")]
    figure = re.search(r'<figure id="fig-lab_hematology">.*?</figure>', text, flags=re.S).group(0)
    page = tmp_path / "shot.html"
    page.write_text(head + "".join(parts) + figure + "</body></html>", encoding="utf-8")
    png = tmp_path / "full.png"
    _chromium(tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,3000", page.as_uri())
    px = _pixels(png)
    rows = np.flatnonzero((px < 250).any(axis=2).any(axis=1))
    buf = io.BytesIO()
    Image.fromarray(px[: int(rows.max()) + 20]).save(buf, format="PNG", optimize=True)
    write_bytes_atomic(DOCS_PNG, buf.getvalue())
    assert len(_band_rows(_pixels(DOCS_PNG))) > 100  # the refreshed picture shows a figure's shaded range
