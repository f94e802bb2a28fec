"""iso8601_kinds classifies a column by the shape of its values (digits written as 0): it must give every value
the kind iso8601_kind gives it alone (the classification define.xml's ISO 8601 DataTypes are chosen by)."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from msc_interop.sdtm import define_model
from msc_interop.sdtm.define_model import iso8601_datatype, iso8601_kind, iso8601_kinds, text_shape

_PIECES = ["2009", "2009-03", "2009-03-21", "T08", ":38", ":05", ".25", "Z", "+08:00", "-", "--", "/", "P", "1Y",
           "2M", "T3H", "4W", "٣", "x", " ", "0", "9"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=5).map("".join), max_size=30))
def test_kinds_of_shapes_are_the_kinds_of_values(values: list[str]) -> None:
    kinds = iso8601_kinds(pd.Series(values, dtype=object, index=pd.RangeIndex(3, 3 + len(values))))
    assert kinds.index.equals(pd.RangeIndex(3, 3 + len(values)))
    assert kinds.tolist() == [iso8601_kind(v) for v in values]


def test_kinds_by_hand() -> None:
    values = ["2009-03-21", "2009-03-21T08:38:05", "2009-03", "2009-03-21T08:38", "2009---21", "P1Y2M",
              "2009-03-21/2009-04", "21 March", np.nan, "2009-13-45"]
    assert iso8601_kinds(pd.Series(values, dtype=object)).tolist() == [
        "date", "datetime", "partialDate", "partialDatetime", "incompleteDatetime", "durationDatetime",
        "intervalDatetime", "text", "text", "date"]  # the DataType patterns check form, not the calendar
    assert iso8601_datatype(["2009-03-28", "2009-03"]) == "partialDate"


@pytest.mark.parametrize("extra", [[], ["2009-03-21\x00"], ["2009-03-21" * 10], [3.5, None]])
def test_many_values_shaped_at_once_give_each_value_its_kind(extra: list) -> None:
    """From _SHAPES_IN_NUMPY values on, the shapes are written as one array of code points: the same kinds as
    value by value (and the per-value way where a value holds NUL, is long, or is not text)."""
    rng = np.random.default_rng(11)
    pieces = np.array(_PIECES, dtype=object)
    values = ["".join(pieces[rng.integers(0, len(pieces), rng.integers(0, 7))]) for _ in range(3000)] + extra
    kinds = iso8601_kinds(pd.Series(values, dtype=object))
    assert kinds.tolist() == [iso8601_kind(v if isinstance(v, str) else str(v)) for v in values]
    assert len(values) >= define_model._SHAPES_IN_NUMPY and "date" in kinds.tolist() and "text" in kinds.tolist()


@pytest.mark.parametrize("forms", [1, 3, define_model._FEW_SHAPES, define_model._FEW_SHAPES + 1])
def test_few_shapes_found_by_comparison_give_each_value_its_kind(forms: int) -> None:
    """Many values of a few shapes (a column of dates): the shapes found by comparing rows (up to _FEW_SHAPES,
    else sorted as before) give every value the kind it has alone, and the rows of one shape one code."""
    rng = np.random.default_rng(forms)
    shapes = ["dddd-dd-dd", "dddd-dd-ddTdd:dd", "dddd-dd", "dddd", "dddd-dd-ddTdd:dd:dd", "dddd---dd", "Pdd",
              "ddd", "dddd-dd-ddTdd", "dddd-dd-ddTdd:dd:dd.d", "dddd/dd/dd", "--dd-dd", "ddddW", "x", "dd:dd",
              "dddd-dd-dd/dddd-dd-dd", "dd-dd-dddd"][:forms]
    values = ["".join(str(rng.integers(0, 10)) if ch == "d" else ch for ch in shapes[i % forms])
              for i in range(2000)]
    kinds = iso8601_kinds(pd.Series(values, dtype=object))
    assert kinds.tolist() == [iso8601_kind(v) for v in values]
    rows = np.array([v.translate(define_model._DIGIT_SHAPE) for v in values], dtype=str)
    codes, first = define_model._few_distinct_rows(rows.view(np.uint32).reshape(len(values), -1))
    if forms > define_model._FEW_SHAPES:
        assert codes is None
    else:
        assert len(first) == forms and [values[i] for i in first] == values[:forms]
        assert pd.factorize(rows)[0].tolist() == codes.tolist()


@pytest.mark.parametrize("values, kind", [
    (["12", "-3", "+40"], "integer"),
    (["1.5", ".25", "3"], "float"),
    (["١٢", "12"], "text"),  # Arabic-Indic digits: no xs:integer
    (["１２"], "text"),  # fullwidth
    (["1.५"], "text"),  # a Devanagari decimal
])
def test_text_shape_types_numbers_by_ascii_digits_only(values: list[str], kind: str) -> None:
    """define.xml integer / float are xs:integer / xs:decimal lexical forms (ASCII digits): a value in other digits
    keeps the variable text, as a reader of the define would fail to parse it as the number it claims."""
    assert text_shape(values).datatype == kind
