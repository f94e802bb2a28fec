"""The define.xml rules' first rows (validate/rules/define.py DefineContext): found only for a value a finding
names, and the row named is the value's first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.rules.define import DefineContext


@pytest.fixture
def counted_first_rows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    real = ColumnCache.first_rows

    def first_rows(self, ds: str, col: str):
        calls.append((ds, col))
        return real(self, ds, col)

    monkeypatch.setattr(ColumnCache, "first_rows", first_rows)
    return calls


def context(df: pd.DataFrame) -> DefineContext:
    datasets = {"LB": df}
    return DefineContext(Path("define.xml"), etree.ElementTree(etree.Element("ODM")), datasets,
                         column_cache=ColumnCache(datasets))


def test_distinct_values_in_row_order_without_a_pass_for_their_rows(counted_first_rows: list) -> None:
    ctx = context(pd.DataFrame({"LBORRES": ["5.1", "", "7", "5.1", "abc", "7"]}))
    values = ctx.distinct_text("LB", "LBORRES")
    assert values.tolist() == ["5.1", "7", "abc"]  # non-empty, in the order of their first rows
    assert counted_first_rows == []
    assert [ctx.row("LB", "LBORRES", p) for p in values.index] == [0, 2, 4]
    assert set(counted_first_rows) == {("LB", "LBORRES")}  # (asked only when a row is)


def test_numbers_as_text_keep_their_rows() -> None:
    ctx = context(pd.DataFrame({"LBSTRESN": [float("nan"), 2.5, 1.0, 2.5]}))
    values = ctx.distinct_text("LB", "LBSTRESN")
    assert values.tolist() == ["2.5", "1"]
    assert [ctx.row("LB", "LBSTRESN", p) for p in values.index] == [1, 2]
