"""patterns.search_each: a pattern decided once per shape of the values (their digits written 0) says what
pandas' str.contains says of each value, non-ASCII digits and line ends included; digit_blind refuses every
pattern that tells one digit from another."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO
from msc_interop import iso8601
from msc_interop.patterns import digit_blind, search_each
from msc_interop.records.table_check import DistinctColumn


def _schema_patterns() -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                found.append(v) if k == "pattern" else walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads((REPO / "mappings" / "schema" / "records.schema.json").read_text(encoding="utf-8")))
    return sorted(set(found))


PATTERNS = [*_schema_patterns(), iso8601.COMPLETE_DATE, r"\b\d+\b", r"(?i:ab)[^0-9]", r"[/-9]x"]
TEMPLATES = ["2009-03-21T08:38", "2009-03-21", "2009-UN-UN", "00012", "12.5", "08:30", "SCREEN FAILURE", "yes", ""]
CHARS = st.sampled_from([*"0123456789-:T UNKunk.+,aAzZ_\n\r\t\0", "\u0663", "\uff12", "\u00e9"])


@st.composite
def value(draw) -> str:
    text = list(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()) or not text:
            text.insert(at, draw(CHARS))
        else:
            text[min(at, len(text) - 1)] = draw(CHARS)
    return "".join(text)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(value(), min_size=60, max_size=200, unique=True))
def test_search_each_says_what_str_contains_says(pattern, values):
    s = pd.Series(values, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want = s.str.contains(pattern, regex=True).astype(bool).tolist()
    assert search_each(pattern, s).tolist() == want


def test_the_schema_patterns_are_digit_blind():
    assert all(digit_blind(p) for p in _schema_patterns())


@pytest.mark.parametrize("pattern", [r"(\d)\1", r"[1-9]", r"[0-8]", r"[{1}]", r"a\x30", r"2\d", r"(?P<a>x)(?(a)y|z)",
                                     iso8601.COLLECTED_COMPLETE])
def test_a_pattern_telling_digits_apart_is_not_blind(pattern):
    assert not digit_blind(pattern)


def test_values_not_all_text_are_searched_one_by_one():
    s = pd.Series([*[f"{i:05d}" for i in range(70)], None], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want = s.str.contains(r"^[0-9]{5}$", regex=True).astype(bool).tolist()
    assert search_each(r"^[0-9]{5}$", s).tolist() == want


@pytest.mark.parametrize("values", [["abc", "", "\u00e9t\u00e9", "\U0001f600x", "a\nb"], ["x", None, "\u00e9"], [],
                                    ["a", 1]])
def test_distinct_lengths_are_pandas_lengths(values):
    """table_check.DistinctColumn's lengths in characters and in UTF-8 bytes are pandas' str.len() and
    str.encode("utf-8").str.len() (only the values not ASCII encoded)."""
    column = DistinctColumn(pd.Series(values, dtype=object))
    lengths = column.lengths()
    np.testing.assert_array_equal(lengths, column.values.str.len().to_numpy())
    if all(isinstance(v, str) for v in values):
        np.testing.assert_array_equal(column.utf8_lengths(lengths),
                                      column.values.str.encode("utf-8").str.len().to_numpy())
