"""Good inputs to break: the example study as records, SDTM (Dataset-JSON, its NDJSON form, CSV, XPT) and FHIR
(Bundle, NDJSON), made once per test session; each case copies one and changes one thing."""

from __future__ import annotations

import atexit
import contextlib
import functools
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from msc_interop.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "example_study"
PINNED = "2026-01-01T00:00:00"


HANG_SECONDS = 60  # a case on the small example study takes well under a second; a minute means a hang


class Hang(BaseException):  # not Exception: the CLI turns those into exit 3; a hang must stop the test
    """A command ran longer than HANG_SECONDS on a small input."""


@contextlib.contextmanager
def no_hang(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail (raise Hang) instead of waiting forever when a command loops on bad input (SIGALRM, main thread)."""
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(*args: object):
    """The command line in-process, under a hang watchdog; exceptions are kept on the result (a traceback is a
    finding, not a crash)."""
    with no_hang():
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


@functools.cache
def _made() -> dict[str, Path]:
    root = Path(tempfile.mkdtemp(prefix="msc_bad_inputs_"))
    atexit.register(shutil.rmtree, root, True)
    sdtm, fhir = root / "sdtm", root / "fhir"
    assert run_cli("to-sdtm", EXAMPLE, "-o", sdtm, "--format", "json,ndjson,csv,xpt", "--created", PINNED,
                   "--no-validate").exit_code == 0
    assert run_cli("to-fhir", EXAMPLE, "-o", fhir, "--ndjson", "--no-validate").exit_code == 0
    book = root / "records.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        for form in ("subjects", "exposures", "adverse_events", "labs", "findings"):
            pd.read_csv(EXAMPLE / f"{form}.csv", dtype=str, keep_default_na=False).to_excel(
                xl, sheet_name=form, index=False)
    return {"sdtm": sdtm, "fhir": fhir, "xlsx": book}


def copy_of(kind: str, to: Path) -> Path:
    """A fresh copy of one good input: "records" (the example study folder), "xlsx" (its forms as sheets of
    records.xlsx, study.yaml beside it), "odm" (its EDC export and odm-map.yaml), "sdtm-json", "sdtm-ndjson",
    "sdtm-csv", "sdtm-xpt" (one SDTM format folder), "fhir-bundle" (the folder holding bundle.json) or "fhir-ndjson"."""
    if kind == "records":
        src = EXAMPLE
    elif kind == "odm":  # the EDC export of the example study with its mapping file
        src = EXAMPLE.parent / "example_study_odm"
    elif kind == "xlsx":  # the records as sheets of one workbook, study.yaml beside it
        to.mkdir(parents=True)
        shutil.copy(_made()["xlsx"], to / "records.xlsx")
        shutil.copy(EXAMPLE / "study.yaml", to / "study.yaml")
        return to
    elif kind.startswith("sdtm-"):
        src = _made()["sdtm"] / kind.removeprefix("sdtm-")
    elif kind in ("fhir-bundle", "fhir-ndjson"):
        src = _made()["fhir"]
    else:
        raise ValueError(kind)
    shutil.copytree(src, to)
    if kind == "odm":  # the mapping names the study definition relative to the fixtures: point it at the original
        mapping = to / "odm-map.yaml"
        text = mapping.read_text(encoding="utf-8")
        assert "study_definition: ../example_study/study.yaml" in text
        mapping.write_text(text.replace("../example_study/study.yaml", str(EXAMPLE / "study.yaml")), encoding="utf-8")
    for extra in to.glob("rejects.*"):
        extra.unlink()
    if kind == "fhir-bundle":
        for p in to.glob("*.ndjson"):
            p.unlink()
    elif kind == "fhir-ndjson":
        (to / "bundle.json").unlink()
    return to
