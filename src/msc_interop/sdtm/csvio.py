"""SDTM datasets as CSV: `write_csv` / `read_csv`.

A plain, reviewable form (spreadsheets, diffs): UTF-8 without BOM, one header row of variable names,
"\\n" line ends, "" for a missing value, every whole number without a trailing ".0" (19734, VISITNUM 1 beside
1.5: as a spreadsheet, SAS or R writes it and reads it back), other numbers in Python's shortest round-trip
form, so a float reads back as the same float. CSV carries no types: the reader reads every cell as text and
turns the variables the SDTM metadata types as Num back into numbers. A variable msc-interop's metadata does
not know (a sponsor's DMDY) becomes numbers when the folder's define.xml gives it DataType integer or float,
or, without a define.xml DataType, when the SDTM model types it Num (mappings/sdtm_model.yaml
numeric_variables: --DY, VISITNUM, ...), and in both cases only when every value in the column is a number;
else it stays text. The dataset name is the file name (lb.csv -> LB).

    >>> write_csv(study["LB"], "LB", Path("out/lb.csv"))
    >>> name, df = read_csv(Path("out/lb.csv"))
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.atomic import atomic_open
from msc_interop.errors import InputError
from msc_interop.sdtm import text_encoding
from msc_interop.sdtm.package import datatypes_from_define
from msc_interop.study import as_text, conform

CHUNK_ROWS = 100_000


def write_csv(df: pd.DataFrame, name: str, path: Path) -> None:
    """Write one dataset as CSV (deterministic: same data, same bytes).

        >>> write_csv(study["DM"], "DM", Path("out/dm.csv"))
    """
    data = conform(name, df)
    cols = [str(c) for c in df.columns]
    write_conformed(data if list(data.columns) == cols else data[cols], name, path)


def write_conformed(data: pd.DataFrame, name: str, path: Path) -> None:
    """`write_csv` for a frame already in the Study's canonical form (a `Study` dataset)."""
    write_frames(data, lambda: iter([data]), name, path)


def write_frames(shape: pd.DataFrame, frames: Callable[[], Iterable[pd.DataFrame]], name: str, path: Path) -> None:
    """`write_conformed` for a dataset given as consecutive frames (a partitioned run: sdtm/spill.py): `shape`
    gives the variables, `frames()` the rows in order. The bytes are those of write_conformed on the whole (each
    cell is written on its own)."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        out.writerow(list(shape.columns))
        for data in frames():
            cells = [_cells(data[c]) for c in shape.columns]
            for a in range(0, len(data), CHUNK_ROWS):
                out.writerows(zip(*(c[a:a + CHUNK_ROWS].tolist() for c in cells), strict=True))


def _cells(s: pd.Series) -> np.ndarray:
    """Column as an object array csv.writer prints right: None (written "") for missing, ints and whole floats
    without ".0" (a float column of a package, VISITNUM 1.0 or a SAS date 19734.0, reads as 1 and 19734 in any
    reader; CSV has no types to keep), other floats by repr() (the shortest text that reads back as the same
    float). Whole numbers from 2**53 on keep repr(): no longer exact integers."""
    if pd.api.types.is_integer_dtype(s):
        return s.to_numpy(dtype=object, na_value=None)
    if pd.api.types.is_float_dtype(s):
        x = s.to_numpy(dtype="float64")
        missing = np.isnan(x)
        cells = x.astype(object)
        whole = ~missing & (np.abs(x) < 2**53) & (x == np.trunc(x))
        cells[whole] = x[whole].astype(np.int64).astype(object)
        cells[missing] = None
        return cells
    return s.to_numpy(dtype=object)


def read_csv(path: Path) -> tuple[str, pd.DataFrame]:
    """Read an SDTM CSV: (dataset name from the file name, data); Num variables of the metadata as numbers."""
    path = Path(path)
    try:
        raw = text_encoding.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)  # UTF-8, else cp1252
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path.name}: empty file; expected a header row of SDTM variable names") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        raise InputError(f"{path.name}: not a readable UTF-8 CSV file: {exc}") from exc
    return path.stem.upper(), csv_frame(path, raw)


def numbers_if_all_columns(path: Path, columns: Iterable[str]) -> list[str]:
    """The columns of `path` read as numbers only when every value in them is one (decided over the whole
    column: a reader of the file in pieces decides them first, with `all_numbers`)."""
    name = Path(path).stem.upper()
    domain = mappings.sdtm_domain(name)
    known = domain.by_name if domain else {}
    define = datatypes_from_define(Path(path).parent / "define.xml").get(name, {})
    return [c for c in columns if c not in known and _numeric_unknown(c, name, define)]


def csv_frame(path: Path, raw: pd.DataFrame, numeric: dict[str, bool] | None = None) -> pd.DataFrame:
    """The dataset of CSV text cells `raw` (rows numbered from 1 in errors). `numeric`: for the columns of
    numbers_if_all_columns, whether every value of the whole column is a number (None: decided on `raw`)."""
    path = Path(path)
    name = path.stem.upper()
    domain = mappings.sdtm_domain(name)
    known = domain.by_name if domain else {}
    define = datatypes_from_define(path.parent / "define.xml").get(name, {})
    out = {}
    for col in raw.columns:
        text = as_text(raw[col])
        v = known.get(col)
        if v is None:
            if not _numeric_unknown(col, name, define):
                out[col] = text
            elif numeric is None:
                out[col] = _numbers_if_all(text)
            else:
                out[col] = _as_numbers(text) if numeric[col] else text
            continue
        if v.type != "Num":
            out[col] = text
            continue
        blank = text.str.strip() == ""
        num = pd.to_numeric(text.where(~blank, np.nan), errors="coerce")
        bad = num.isna() & ~blank
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path.name} row {row + 1} (line {row + 2}), {col}: {text.iloc[row]!r} is not a "
                             f"number, but {col} is numeric in SDTM")
        if v.datatype == "integer":
            frac = num.notna() & (num % 1 != 0)
            if frac.any():
                row = int(np.flatnonzero(frac.to_numpy())[0])
                raise InputError(f"{path.name} row {row + 1} (line {row + 2}), {col}: {text.iloc[row]!r} is not "
                                 f"a whole number, but {col} is an integer variable")
            out[col] = num.astype("Int64")
        else:
            out[col] = num.astype("float64")
    return pd.DataFrame(out, index=pd.RangeIndex(len(raw)))


_DEFINE_NUMBERS = frozenset({"integer", "float", "double", "decimal"})


def _numeric_unknown(col: str, name: str, define: dict[str, str]) -> bool:
    """Whether a variable msc-interop's metadata does not know is numeric: define.xml's DataType when it gives
    one, else the SDTM model (mappings/sdtm_model.yaml numeric_variables)."""
    if col in define:
        return define[col] in _DEFINE_NUMBERS
    return mappings.model_numeric(col, name)


def _numbers_if_all(text: pd.Series) -> pd.Series:
    """The column as float64 (blank -> NaN) when every non-blank value is a number, else as it is: a sponsor's
    column the model calls numeric but that holds text is kept, never half converted."""
    return _as_numbers(text) if all_numbers(text) else text


def all_numbers(text: pd.Series) -> bool:
    """Whether every non-blank value of the text column is a number."""
    blank = text.str.strip() == ""
    num = pd.to_numeric(text.where(~blank, np.nan), errors="coerce")
    return not (num.isna() & ~blank).any()


def _as_numbers(text: pd.Series) -> pd.Series:
    blank = text.str.strip() == ""
    return pd.to_numeric(text.where(~blank, np.nan), errors="coerce").astype("float64")
