"""Real inputs run through to-sdtm, for the proof that validating what was written in memory
(validate/written.py) finds exactly what reading the files back finds (`validate PATH`).

Each case: (name, input path builder, to_sdtm keyword arguments). The seeded study is the bundled study with
defects a reader of the files could see differently from the Study in memory (trailing blanks, numbers outside
the IBM float range, numbers in a variable SDTM does not know, text that is not ASCII, NUL characters) and
content defects the SDTM rules report (dates, codelist values, a duplicate --SEQ, a missing Req variable).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.sdtm.formats import write_study
from msc_interop.study import Study

CREATED = "2026-01-01T00:00:00"
ALL = ["xpt", "json", "ndjson", "csv"]


def seeded_study() -> Study:
    """The bundled study with defects seeded (see the module docstring)."""
    study, _ = api.load_study(EXAMPLE)
    data = {name: study[name].copy() for name in study.names}
    lb = data["LB"]
    lb.loc[0, "LBDTC"] = "2020-13-45"                      # not a date
    lb.loc[1, "LBSTRESU"] = "furlongs"                      # not in the UNIT codelist
    lb.loc[2, "LBORRES"] = "5.1  "                          # trailing blanks: XPT drops them
    lb.loc[3, "LBORRES"] = "  5.1"                          # leading blanks: every format keeps them
    lb.loc[4, "LBSTRESN"] = 1e-80                           # below the smallest IBM float
    lb.loc[5, "LBSTRESN"] = 1e80                            # above the largest IBM float
    lb.loc[6, "LBSTRESN"] = 0.1 + 0.2                       # needs all 53 bits
    lb.loc[7, "LBCOMM"] = "a\x00b"                          # XPT readers stop a value at a NUL
    lb["LBXNUM"] = np.where(np.arange(len(lb)) % 2, 1.5, 2.0)  # a number SDTM does not know: text in CSV
    lb["LBXWHOLE"] = np.arange(len(lb), dtype="float64")    # whole numbers SDTM does not know
    lb.loc[8, "LBSEQ"] = lb.loc[9, "LBSEQ"]                  # duplicate --SEQ
    data["LB"] = lb
    dm = data["DM"]
    dm.loc[0, "SEX"] = "Q"                                  # not in the SEX codelist
    data["DM"] = dm.drop(columns=["COUNTRY"])               # a Req variable missing
    ae = data["AE"]
    ae.loc[0, "AETERM"] = "Übelkeit"                        # not ASCII (written with --xpt-encoding)
    data["AE"] = ae
    out = Study(study.meta, data)
    out.text_origins = dict(study.text_origins)
    return out


def _seeded_package(tmp: Path, fmt: str) -> Path:
    """The seeded study written as an SDTM package (the input to-sdtm converts as it is)."""
    folder = tmp / f"seeded_{fmt}"
    write_study(seeded_study(), folder, [fmt], created=CREATED, xpt_encoding="utf-8")
    return folder


Case = tuple[str, Callable[[Path], Path], dict[str, Any]]


def cases(shared: Path | None) -> list[Case]:
    """Every case; those of ../shared/external only when it is present."""
    out: list[Case] = [
        ("example", lambda _t: EXAMPLE, {"formats": ALL}),
        ("example_cp1252", lambda _t: _example_non_ascii(_t), {"formats": ["xpt", "json"], "xpt_encoding": "cp1252"}),
        ("seeded_from_xpt", lambda t: _seeded_package(t, "xpt"), {"formats": ALL}),
        ("seeded_from_json", lambda t: _seeded_package(t, "json"), {"formats": ALL}),
        ("seeded_cp1252", lambda t: _seeded_package(t, "json"), {"formats": ["xpt"], "xpt_encoding": "cp1252"}),
    ]
    if shared is not None:
        ext = shared / "external"
        out += [
            ("datasetjson_examples", lambda _t: ext / "dataset-json" / "examples-v1.1" / "sdtm", {"formats": ALL}),
            ("cdisc_pilot", lambda _t: ext / "cdisc-pilot-original", {"formats": ALL}),
        ]
    return out


def _example_non_ascii(tmp: Path) -> Path:
    """The bundled study as a JSON package with one AE term not in ASCII."""
    study, _ = api.load_study(EXAMPLE)
    data = {name: study[name].copy() for name in study.names}
    data["AE"].loc[0, "AETERM"] = "Kopfschmerz (Stärke 2)"
    folder = tmp / "example_non_ascii"
    write_study(Study(study.meta, data), folder, ["json"], created=CREATED)
    return folder
