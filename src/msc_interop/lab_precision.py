"""How many decimals a lab result converted to its standard unit keeps.

The test's decimals (mappings/lab_tests.yaml `decimals`, or `specimen_decimals` for a specimen whose results are far
smaller) are a sponsor's rounding; they must never erase a result: a non-zero value they would round to 0 keeps
the decimals its original's own precision needs in the standard unit (30 mg/dL is 0.30 g/L, not 0).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation


def resolution_decimals(original: str, factor: float) -> int:
    """Decimals that keep the original number's last digit after multiplying by `factor` (the text's exponent:
    "30" -> 1 mg/dL -> 0.01 g/L -> 2)."""
    try:
        exponent = Decimal(original.strip().lstrip("<>=")).as_tuple().exponent
    except InvalidOperation:
        return 6
    places = -exponent if isinstance(exponent, int) else 0
    step = 10.0 ** (-places) * abs(factor)
    return min(max(0, -math.floor(round(math.log10(step), 9))), 12) if step > 0 else 6


def kept_round(value: float, decimals: int, original: str, factor: float) -> float:
    """`value` (the original times `factor`) rounded to `decimals`, or to the original's precision when those
    would make a non-zero value 0."""
    out = round(value, decimals)
    if out == 0 and value != 0:
        out = round(value, max(decimals, resolution_decimals(original, factor)))
    return out
