"""What a reader of a file to-sdtm just wrote would see, built from the Study still in memory.

validate/written.py runs the SDTM rules on these views instead of reading the files back. A view is the
Study's own dataset (the same object) wherever the writer and the reader of that format give the values back
unchanged, which is the usual case; otherwise it is the dataset as the reader would give it, or the file is
read back (`None` from a view function: the caller reads it as `validate PATH` does). Where the two could differ:

- XPT (sdtm/xpt.py writer, sdtm/xpt_read.py reader): character values lose trailing blanks and stop at a NUL
  (emulated); text that is not ASCII is bytes in an encoding the reader guesses (UTF-8, else Windows-1252), so
  such a dataset is read back, with the decoding findings only that read gives; numbers are IBM floats, whose
  56-bit fraction holds every double exactly between 16**-65 and 16**63 (a double has 53 significant bits; an
  IBM fraction at least 53), but the writer, as ReadStat, saturates from 2**249 (xpt_rows.IBM_SATURATES), so only
  a dataset holding a number outside 16**-65 .. 2**249 (or an infinity) is read back. Integers are doubles in
  the file and come back as the same integers once conformed.
- Dataset-JSON: strings, integers and doubles (shortest repr) come back as they were; an infinity is written
  as null, so such a dataset is read back.
- CSV: no types; a number in a variable SDTM does not know comes back as text, written as the CSV writer
  writes it (emulated). A value holding a carriage return or a NUL is read back (what the CSV parser makes of
  it is its business).
- A package dataset whose types the package states differently from the Study (sdtm/package.py
  as_package_states) is read back in every format: the file holds the package's types.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.distinct import column_codes
from msc_interop.sdtm.datasetjson_read import NUMERIC_TYPES
from msc_interop.sdtm.formats import layout
from msc_interop.sdtm.package import as_package_states
from msc_interop.sdtm.xpt_rows import IBM_SATURATES
from msc_interop.study import Study, conform

IBM_MIN = 16.0 ** -65  # the smallest normalised IBM double (SAS TS-140)
IBM_MAX = IBM_SATURATES  # the writer (as ReadStat) writes the largest IBM pattern from here on


def as_written(study: Study, name: str) -> pd.DataFrame | None:
    """The dataset as every writer received it; None when the package states other types (read it back)."""
    df = study[name]
    out = as_package_states(df, layout(study.meta, name))
    return df if out is df else None


def _texts(df: pd.DataFrame) -> dict[str, str]:
    """Each character column's values joined with \\x01 (one C-level pass), for the checks below."""
    return {str(c): "\x01".join(column_codes(df[c])[1].tolist()) for c in df.columns
            if df[c].dtype == object and len(df)}


def xpt_view(study: Study, name: str) -> pd.DataFrame | None:
    """The dataset as the XPT reader would give it back, conformed; None: read the file back."""
    df = as_written(study, name)
    if df is None:
        return None
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_float_dtype(s):
            x = np.abs(s.to_numpy(dtype="float64"))
            x = x[~np.isnan(x) & (x != 0)]
            if len(x) and (x.min() < IBM_MIN or x.max() >= IBM_MAX):  # also catches an infinity
                return None
        elif pd.api.types.is_integer_dtype(s) and (s.abs() > 2**53).any():  # not held exactly by a double
            return None
    changed = {}
    for col, joined in _texts(df).items():
        if not joined.isascii():
            return None
        if "\x00" in joined or " \x01" in joined or joined.endswith(" "):
            changed[col] = df[col].map(lambda v: v.split("\x00", 1)[0].rstrip(" ")).astype(object)
    if not changed:
        return df
    return conform(name, df.assign(**changed))


def json_view(study: Study, name: str) -> pd.DataFrame | None:
    """The dataset as the Dataset-JSON reader would give it back; None: read the file back."""
    df = as_written(study, name)
    if df is None:
        return None
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_float_dtype(s) and np.isinf(s.to_numpy(dtype="float64")).any():
            return None
    return df


def json_rows_checked(df: pd.DataFrame, columns: list[dict]) -> bool:
    """True when the rows the writer made from `df` hold the JSON types their columns' dataTypes allow, so
    MSC-DJSON-003 cannot find anything: every row has one value per column (the writer zips the columns),
    numeric columns are written as numbers or null, other columns as the Study's str values (never a
    boolean: a package may state dataType boolean for a text column; then the file is read back)."""
    by_name = {str(c.get("name")): c for c in columns}
    if list(by_name) != [str(c) for c in df.columns]:
        return False
    for col in df.columns:
        dtype = str(by_name[str(col)].get("dataType", "string"))
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        if dtype == "boolean" or (dtype in NUMERIC_TYPES) != numeric:
            return False
    return True


def csv_view(study: Study, name: str) -> pd.DataFrame | None:
    """The dataset as the CSV reader would give it back, conformed; None: read the file back."""
    df = as_written(study, name)
    if df is None:
        return None
    for joined in _texts(df).values():
        if "\r" in joined or "\x00" in joined:
            return None
    domain = mappings.sdtm_domain(name)
    known = domain.by_name if domain else {}
    changed = {}
    for col in df.columns:
        s = df[col]
        v = known.get(col)
        if (v is not None and v.type == "Num") or not pd.api.types.is_numeric_dtype(s) \
                or pd.api.types.is_bool_dtype(s):
            continue
        changed[col] = _csv_text(s)
    if not changed:
        return df
    return conform(name, df.assign(**changed))


def _csv_text(s: pd.Series) -> pd.Series:
    """A number column SDTM does not know as the CSV writer writes it (csvio._cells with whole=True) and the
    reader reads it (text): whole numbers without ".0" when all are whole, else repr; "" for missing."""
    x = s.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(x)
    whole = not missing.all() and bool(np.all((x[~missing] % 1 == 0) & (np.abs(x[~missing]) < 2**53)))
    codes, uniques = pd.factorize(x, use_na_sentinel=True)
    text = [str(int(u)) if whole else repr(float(u)) for u in uniques]
    return pd.Series(np.asarray([*text, ""], dtype=object)[codes], index=s.index, dtype=object)
