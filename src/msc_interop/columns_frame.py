"""A DataFrame from columns, without copying them.

`pd.DataFrame({name: column, ...})` copies every column of one dtype into one 2-D block (pandas' consolidation):
for a dataset of a million rows and twenty text columns that copy took ~1 s and twice the memory of the columns,
each time a builder or the XPT writer made its frame. `pd.concat` of the columns along axis 1 keeps each column as
it is (one block each), which is all the builders and writers need: they read columns, they do not do row-wise
arithmetic across many columns of one dtype.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.distinct import coded


def frame_of_columns(columns: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    """The frame `pd.DataFrame(columns, index=index)` makes (Series aligned on `index`, scalars and arrays
    spread over it), its columns not copied into 2-D blocks."""
    parts = []
    for name, value in columns.items():
        if isinstance(value, pd.Series):
            s = value if value.index.equals(index) else value.reindex(index)
            parts.append(s.set_axis(index).rename(name))
        elif isinstance(value, str):  # a constant (DOMAIN): text, its one code known to the writers
            parts.append(coded(np.zeros(len(index), dtype=np.int8), [value], index).rename(name))
        else:
            parts.append(pd.Series(value, index=index, name=name, dtype=object if value is None else None))
    if not parts:
        return pd.DataFrame(index=index)
    return pd.concat(parts, axis=1)
