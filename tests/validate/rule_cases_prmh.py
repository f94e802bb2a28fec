"""Making and non-making cases of the MH / PR / RE rules (MSC-SDTM-140..146), added to test_rules.CASES.

Rows of the bundled study (fixtures/example_study, to-sdtm): MH row 1 is subject 01's SLE (ONGOING as of
BASELINE, no end date), MH row 11 subject 06's hypertension (2003 to 2007-06, BEFORE); PR/RE row 1 subject
01's baseline chest X-ray (2009-09-30, link CXR-1); subject 01's first dose is 2009-10-04.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from msc_interop.study import Study
from msc_interop.validate import Finding, validate_study

from .conftest import mutate

Check = Callable[[Study, Path, Path], list[Finding]]


def _set(*cells: tuple[str, int, str, Any]) -> Check:
    changed = [{"dataset": d, "row": r, "variable": v, "value": x} for d, r, v, x in cells]
    return lambda study, _out, _tmp: validate_study(mutate(study, cells=changed)).findings


PRMH_CASES: list[tuple[str, str, Check, bool]] = [
    ("MSC-SDTM-140", "SLE ONGOING with an end date", _set(("MH", 1, "MHENDTC", "2008-05")), True),
    ("MSC-SDTM-140", "ended BEFORE with its end date", _set(("MH", 1, "MHENDTC", "2008-05"),
                                                            ("MH", 1, "MHENRTPT", "BEFORE")), False),
    ("MSC-SDTM-141", "MHDECOD null", _set(("MH", 1, "MHDECOD", None)), True),
    ("MSC-SDTM-141", "MHDECOD from the coder", _set(("MH", 1, "MHDECOD", "Lupus erythematosus")), False),
    ("MSC-SDTM-142", "ONGOING as of nothing", _set(("MH", 1, "MHENTPT", None)), True),
    ("MSC-SDTM-142", "no MHENRTPT, no MHENTPT", _set(("MH", 1, "MHENTPT", None), ("MH", 1, "MHENRTPT", None)),
     False),
    ("MSC-SDTM-143", "chest X-ray without its date", _set(("PR", 1, "PRSTDTC", None), ("PR", 1, "PRSTDY", None)),
     True),
    ("MSC-SDTM-143", "chest X-ray known to the month", _set(("PR", 1, "PRSTDTC", "2009-09"),
                                                           ("PR", 1, "PRSTDY", None)), False),
    ("MSC-SDTM-144", "reading without result", _set(("RE", 1, "REORRES", None), ("RE", 1, "RESTRESC", None)), True),
    ("MSC-SDTM-144", "only the standard result", _set(("RE", 1, "REORRES", None)), False),
    ("MSC-SDTM-145", "RE link to no procedure", _set(("RE", 1, "RELNKID", "CXR-99")), True),
    ("MSC-SDTM-145", "RE link null (not linked)", _set(("RE", 1, "RELNKID", None), ("PR", 1, "PRLNKID", None)),
     False),
    ("MSC-SDTM-146", "history starting after the first dose", _set(("MH", 1, "MHSTDTC", "2010-01-01")), True),
    ("MSC-SDTM-146", "history in the year of the first dose (year only)", _set(("MH", 1, "MHSTDTC", "2009")), False),
]
