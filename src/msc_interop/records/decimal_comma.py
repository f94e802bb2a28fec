"""A number written with a decimal comma (59,8: a European spreadsheet's habit) named as such in a reject's reason,
rather than only "not a number", so that the data manager sees what to write instead."""

from __future__ import annotations

import pandas as pd

COMMA_NUMBER = r"^(?:<=|>=|<|>)?[+-]?[0-9]*,[0-9]+$"  # one comma between digits (a lab result may lead with < or >)


def decimal_comma_hints(col: str, values: pd.Series) -> pd.Series:
    """Per value: a reason naming the decimal comma and the number to write ("" where the value is not a number
    with one comma). Three digits after the comma may be a thousands separator (1,234): both readings are named."""
    comma = values.astype(str).str.match(COMMA_NUMBER)
    fixed = values.astype(str).str.replace(",", ".", regex=False)
    whole = values.astype(str).str.replace(",", "", regex=False)
    thousands = values.astype(str).str.contains(r",[0-9]{3}$", regex=True)
    hint = ("'" + col + "' is not a number as written ('" + values.astype(str) + "'): a decimal comma? write "
            + fixed + " ('.' is the decimal mark)")
    hint = hint.where(~thousands, "'" + col + "' is not a number as written ('" + values.astype(str)
                      + "'): a decimal comma or a thousands separator? write " + fixed + " or " + whole
                      + " ('.' is the decimal mark, no thousands separator)")
    return hint.where(comma, "").astype(object)
