"""dates.certainly_before: the order of partial ISO 8601 dates at the precision both share, vectorised.

The rules that compare dates (MSC-SDTM-012 start after end, -027 born after, -034 exposure outside the reference
period, -146 history after first dose) ask it for every distinct pair. Expected answers are worked out by hand
from SDTMIG 4.4 (dates compared only as far as both are known) and, for random mixes, by the one-pair definition.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from msc_interop.dates import certainly_before

# right-truncated ISO 8601 (no missing middle part), written out here rather than imported from the code
_TRUNCATED = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?)?$")


def _one_pair(a: object, b: object) -> bool:
    if not isinstance(a, str) or not isinstance(b, str) or not _TRUNCATED.match(a) or not _TRUNCATED.match(b):
        return False
    k = min(len(a), len(b))
    return a[:k] < b[:k]


@pytest.mark.parametrize(("a", "b", "before"), [
    ("2020-03-14", "2020-03-15", True),
    ("2020-03-15", "2020-03-15", False),
    ("2020-03", "2020-04-01", True),          # March is before any day of April
    ("2020-03", "2020-03-15", False),         # the same month: not certainly before
    ("2020-03-15T08:30", "2020-03-15T09", True),
    ("2020-03-15T08:30", "2020-03-15", False),  # same day, the other has no time
    ("2020---15", "2021", False),             # a missing middle part does not order as text
    ("", "2021", False),
    ("2019", "", False),
    (None, "2021", False),
    (float("nan"), "2021", False),
    (" 2019", "2021", False),                 # not ISO 8601 as it stands
])
def test_pairs_worked_by_hand(a: object, b: object, before: bool) -> None:
    got = certainly_before(np.array([a], dtype=object), np.array([b], dtype=object))
    assert got.tolist() == [before]


def test_random_mix_matches_the_one_pair_definition() -> None:
    pool = ["", "2020", "2020-03", "2020-03-15", "2020-03-15T08", "2020-03-15T08:30", "2020-03-15T08:30:01",
            "2020-03-15T08:30:01.5", "2019-12-31", "2020-04", "2020---15", "2020-03-15 ", None, float("nan"),
            "2020-03-14T23:59", "abc", "2021", "2020-03-15T08:29:59.999", "2020-03\n", "２０２０-03", "2020-03-1x"]
    rng = random.Random(7)
    a = [rng.choice(pool) for _ in range(5000)]
    b = [rng.choice(pool) for _ in range(5000)]
    a += [f"{rng.randint(1990, 2030)}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"[:rng.choice([4, 7, 10])]
          for _ in range(5000)]  # all text: the column-wise shapes
    b += [f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}" for _ in range(5000)]
    got = certainly_before(np.array(a, dtype=object), np.array(b, dtype=object))
    assert got.tolist() == [_one_pair(x, y) for x, y in zip(a, b, strict=True)]
    assert 0 < got.sum() < len(a)


def test_empty_input() -> None:
    assert certainly_before(np.array([], dtype=object), np.array([], dtype=object)).tolist() == []


def test_all_text_takes_the_column_wise_shapes_and_matches_the_definition() -> None:
    rng = random.Random(11)
    odd = ["", "2020-03\n", "２０２０-03", "2020-03-1x", "2020-03-15T08:30:01.25", "2020-03-15 ", "2020---15",
           "2020-03-15T08:30:01.", "2020-03-15T8:30", "20200315"]

    def one() -> str:
        if rng.random() < 0.2:
            return rng.choice(odd)
        full = f"{rng.randint(1990, 2030)}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}T{rng.randint(0, 24):02d}" \
               f":{rng.randint(0, 60):02d}:{rng.randint(0, 60):02d}"
        return full[:rng.choice([4, 7, 10, 13, 16, 19])]

    a = [one() for _ in range(8000)]
    b = [one() for _ in range(8000)]
    got = certainly_before(np.array(a, dtype=object), np.array(b, dtype=object))
    assert got.tolist() == [_one_pair(x, y) for x, y in zip(a, b, strict=True)]
    assert 0 < got.sum() < len(a)
