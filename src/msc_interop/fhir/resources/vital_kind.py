"""Which Observations are vital signs (VS, not LB): asked by the lab reader for every Observation it flattened, so it
imports nothing of the readers (fhir/resources/vital_signs.py reads the ones set aside).

A vital sign: category vital-signs (observation-category), msc-interop's cdisc-vstestcd coding, or (without the
laboratory category or a CDISC lab coding) a LOINC of mappings/vital_signs.yaml or of one of its panels.
"""

from __future__ import annotations

import functools
from typing import Any

from msc_interop import vital_signs
from msc_interop.fhir import terms

CATEGORY = "vital-signs"


@functools.cache
def _own_prefix() -> str:
    return terms.system("cdisc_vstestcd") + "|"


def own_test(rec: Any) -> str | None:
    """The VSTESTCD of msc-interop's cdisc-vstestcd coding (an Observation it wrote), else None."""
    prefix = _own_prefix()
    return next((o[len(prefix):] for o in rec.other_codes or () if o.startswith(prefix)), None)


def is_vital_sign(rec: Any) -> bool:
    """True for an Observation that belongs in VS (see the module's docstring)."""
    if CATEGORY in (rec.category_codes or ()):
        return True
    if rec.lab_category is True or rec.cdisc_code is not None:
        return False
    if own_test(rec) is not None:
        return True
    return any(c in vital_signs.loinc_index() or c in vital_signs.panels() for c in rec.loinc_codes or ())
