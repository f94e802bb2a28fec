"""A regular expression tested on a column's distinct values, once per distinct shape of them where it can be.

Why: the records checks ran Python's re on every distinct value (~85k searches for half of a million lab rows:
tens of thousands of distinct dates and subject ids), ~0.5 us each plus pandas' per-value call. A pattern that
treats every ASCII digit alike ([0-9], \\d, ., letters; no digit written in it, no back-reference) gives the same
verdict on a value and on that value with its digits written 0: 2009-03-21T08:38 and 2010-11-02T17:05 are one
shape, 0000-00-00T00:00, so the pattern runs on a handful of shapes. Any other pattern, or values that are not
all text, run as before, value by value.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

_ZEROED = str.maketrans("123456789", "000000000")
_FROM = 64  # distinct values from which the shapes pay (a join, a split, a factorization) over plain searches
_DIGITS = range(ord("0"), ord("9") + 1)


def search_each(pattern: str, values: pd.Series) -> np.ndarray:
    """Whether re.search(pattern, value) finds a match, per value of `values` (distinct values, as a column's
    checks take them): what values.str.contains(pattern, regex=True).astype(bool) gives (NA: True)."""
    items = values.tolist()
    if len(items) >= _FROM and digit_blind(pattern) and pd.api.types.infer_dtype(items, skipna=False) == "string":
        zeroed = "\0".join(items).translate(_ZEROED).split("\0")
        if len(zeroed) == len(items):  # (a value holding a NUL, the separator: value by value)
            codes, shapes = pd.factorize(np.asarray(zeroed, dtype=object))
            search = re.compile(pattern).search
            found = np.fromiter((search(s) is not None for s in shapes), dtype=bool, count=len(shapes))
            return found[codes]
    with warnings.catch_warnings():  # pandas warns about groups in the pattern; only a match is tested
        warnings.simplefilter("ignore", UserWarning)
        return values.str.contains(pattern, regex=True).astype(bool).to_numpy()


@lru_cache(maxsize=256)
def digit_blind(pattern: str) -> bool:
    """Whether `pattern` (str, no flags) tells no ASCII digit from another: each character it tests (a literal, a
    range, a class: \\d, \\w, ., ...) takes all ten or none, and it has no back-reference (which compares the
    text itself). Decided on re's own parse; anything it does not know is taken as telling them apart."""
    try:
        from re import _constants as c
        from re import _parser
        parsed = _parser.parse(pattern, 0)
    except (ImportError, AttributeError, re.error, RecursionError):
        return False

    def blind(items: object) -> bool:
        for op, av in items:  # type: ignore[attr-defined]
            if op in (c.LITERAL, c.NOT_LITERAL):
                ok = av not in _DIGITS
            elif op is c.RANGE:
                ok = av[1] < _DIGITS.start or av[0] >= _DIGITS.stop or (av[0] <= _DIGITS.start
                                                                       and av[1] >= _DIGITS.stop - 1)
            elif op in (c.ANY, c.AT, c.CATEGORY, c.NEGATE):
                ok = True  # (every category holds all ASCII digits or none; \b: a digit is a word character)
            elif op is c.IN or op is c.ATOMIC_GROUP:
                ok = blind(av)
            elif op is c.BRANCH:
                ok = all(blind(branch) for branch in av[1])
            elif op is c.SUBPATTERN:
                ok = blind(av[-1])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                ok = blind(av[2])
            elif op in (c.ASSERT, c.ASSERT_NOT):
                ok = blind(av[1])
            else:  # GROUPREF, GROUPREF_EXISTS, anything newer
                ok = False
            if not ok:
                return False
        return True

    return blind(parsed)
