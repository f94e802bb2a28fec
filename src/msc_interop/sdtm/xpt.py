"""SAS XPORT version 5 (the FDA transport format): `write_xpt` / `read_xpt`, through pyreadstat.

XPT v5 limits (FDA Study Data Technical Conformance Guide; SAS TS-140): dataset and variable names at most
8 characters, labels at most 40, character values at most 200 bytes, ASCII text only, the file named after
the dataset. pyreadstat does not stop a 201-byte value or non-ASCII text and silently cuts long labels, so
`xpt_problems` checks every limit before anything is written and `write_xpt` refuses (OutputLimitError)
rather than truncate.

Non-ASCII text: `write_xpt` refuses it (the FDA's rule). `to-sdtm` passes an `encoding` instead and writes
it in that encoding (sdtm/xpt_text.py: a package read as Windows-1252 is written back so; study records in
UTF-8), with a note per variable (`text_notes`), since XPT cannot say which encoding its bytes are in; only a
value the encoding cannot hold is then a problem.

    >>> write_xpt(study["LB"], "LB", Path("out/lb.xpt"))
    >>> name, df = read_xpt(Path("out/lb.xpt"))      # ("LB", char as str with "" for missing, numbers float64)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from msc_interop import iso8601, mappings
from msc_interop.atomic import atomic_path, paced_open
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import column_codes, per_distinct, sharing
from msc_interop.errors import InputError, MscInteropError, OutputLimitError
from msc_interop.sdtm import text_encoding, xpt_rows, xpt_text
from msc_interop.sdtm.package import XPT_ATTRS
from msc_interop.sdtm.xpt_layout import check_xpt_layout
from msc_interop.sdtm.xpt_read import is_date_format, numeric_formats
from msc_interop.study import as_text, conform

MAX_NAME = 8
MAX_LABEL = 40
MAX_VALUE_BYTES = 200
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SHOW_ROWS = 5  # rows named per variable and problem; the count says how many more


def variable_labels(name: str, columns: list[str]) -> dict[str, str]:
    """Variable labels from the SDTM metadata; a variable the metadata does not know is labelled by its name."""
    meta = mappings.sdtm_domain(name)
    known = meta.by_name if meta else {}
    return {c: (known[c].label if c in known else str(c)) for c in columns}


def xpt_problems(df: pd.DataFrame, name: str, *, labels: Mapping[str, str] | None = None,
                 label: str | None = None, encoding: str | None = None,
                 origins: Mapping[str, tuple[str, int, str]] | None = None, row_offset: int = 0) -> list[str]:
    """Every way `df` would break an XPT v5 limit, one line each (empty list: it fits).

    Names the dataset, the variable, the row (1 = first record), the value or its length, and the limit.
    `encoding` None: text must be ASCII; else values must be text that encoding holds (lengths in its bytes).
    `origins` (Study.text_origins) names the study record a value it cannot hold came from. `row_offset`: the
    rows of `df` before it in its dataset (a partition of it).
    """
    problems: list[str] = []
    where = f"dataset {name}"
    if not isinstance(name, str) or len(name) > MAX_NAME or not _NAME.match(name):
        problems.append(_name_problem("dataset name", name, where))
    ds_label = mappings.dataset_label(name) if label is None else label
    problems += _label_problems(ds_label, f"{where}: dataset label", encoding)
    columns = [str(c) for c in df.columns]
    var_labels = variable_labels(name, columns)
    if labels:
        var_labels.update({k: v for k, v in labels.items() if k in var_labels})
    for col in columns:
        if len(col) > MAX_NAME or not _NAME.match(col):
            problems.append(_name_problem("variable name", col, f"{where}, variable {col}"))
        problems += _label_problems(var_labels[col], f"{where}, variable {col}: label", encoding)
    seen: set[str] = set()
    for i, col in enumerate(columns):
        if col in seen:
            problems.append(f"{where}, variable {col}: the name occurs twice (XPT names must be unique)")
        seen.add(col)
        s = df.iloc[:, i]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            continue
        if _fits_plainly(s):
            continue
        problems += _value_problems(as_text(s), f"{where}, variable {col}", encoding, origins, row_offset)
    return problems


def write_xpt(df: pd.DataFrame, name: str, path: Path, *, labels: Mapping[str, str] | None = None,
              label: str | None = None, created: str | None = None) -> None:
    """Write one dataset as SAS XPORT v5; refuse (OutputLimitError listing every problem) if it does not fit.

    Labels come from the SDTM metadata (`labels` / `label` override the variable / dataset labels).
    `created` (ISO 8601, e.g. 2026-01-01T00:00:00) pins the created/modified stamps of the XPT headers,
    which otherwise hold the current time, so that runs can be byte-identical.
    Nothing is written when a limit is broken; the file appears only complete (atomic rename).

        >>> write_xpt(study["DM"], "DM", Path("out/dm.xpt"))
    """
    problems = xpt_problems(df, name, labels=labels, label=label)
    if problems:
        raise OutputLimitError([f"XPT v5: {p}" for p in problems])
    write_conformed(_conformed(name, df), name, path, labels=labels, label=label, created=created)


def write_conformed(data: pd.DataFrame, name: str, path: Path, *, labels: Mapping[str, str] | None = None,
                    label: str | None = None, created: str | None = None, encoding: str = "utf-8",
                    lengths: Mapping[str, int] | None = None, formats: Mapping[str, str] | None = None) -> None:
    """`write_xpt` for a frame in the Study's canonical form whose limits `xpt_problems` already passed.
    Non-ASCII text is written in `encoding`; `lengths` (a package's own) are the least storage lengths;
    `formats` SAS display formats by variable (ADaM numeric dates: DATE9.)."""
    write_frames(data, lambda: iter([data]), name, path, labels=labels, label=label, created=created,
                 encoding=encoding, lengths=lengths, formats=formats)


def write_frames(shape: pd.DataFrame, frames: Callable[[], Iterable[pd.DataFrame]], name: str, path: Path, *,
                 labels: Mapping[str, str] | None = None, label: str | None = None, created: str | None = None,
                 encoding: str = "utf-8", lengths: Mapping[str, int] | None = None,
                 formats: Mapping[str, str] | None = None) -> None:
    """`write_conformed` for a dataset given as consecutive frames (a partitioned run: sdtm/spill.py):
    `shape` holds every distinct value of each variable (the storage widths come from it), `frames()` the
    rows in order. The bytes are those of write_conformed on the frames end to end."""
    with frames_writer(shape, name, path, labels=labels, label=label, created=created, encoding=encoding,
                       lengths=lengths, formats=formats) as write:
        for part in frames():
            write(part)


@contextlib.contextmanager
def frames_writer(shape: pd.DataFrame, name: str, path: Path, *, labels: Mapping[str, str] | None = None,
                  label: str | None = None, created: str | None = None, encoding: str = "utf-8",
                  lengths: Mapping[str, int] | None = None,
                  formats: Mapping[str, str] | None = None) -> Iterator[Callable[[pd.DataFrame], None]]:
    """`write_frames` as a function to call with each frame in turn: several files can be written in one pass
    over the rows (the pieces of a dataset split by --CAT: sdtm/split_stream.py). The file appears when the
    block ends without an error."""
    var_labels = variable_labels(name, [str(c) for c in shape.columns])
    if labels:
        var_labels.update({k: v for k, v in labels.items() if k in var_labels})
    frame = as_stored(shape)
    header = {"file_format_version": 5, "table_name": name,
              "file_label": mappings.dataset_label(name) if label is None else label,
              "column_labels": [var_labels[c] for c in frame.columns]}
    if formats:
        header["variable_format"] = dict(formats)
    with atomic_path(path) as tmp:
        if len(frame):
            # header from pyreadstat (a one-row template of the right lengths), records column-wise
            widths = xpt_rows.storage_widths(frame, encoding, lengths)
            pyreadstat.write_xport(xpt_rows.template_row(frame, widths), str(tmp), **header)
            with paced_open(tmp, "r+b") as fh:
                fh.seek(_records_start(fh.read(), path))
                fh.truncate()
                written = 0

                def write(part: pd.DataFrame) -> None:
                    nonlocal written
                    stored = frame if part is shape else as_stored(part)  # write_conformed: the shape is the rows
                    written += xpt_rows.write_records(fh, stored, widths, encoding)

                yield write
                xpt_rows.pad_records(fh, written)
        else:
            pyreadstat.write_xport(frame, str(tmp), **header)
            yield _no_rows(name)
        if created is not None:
            _pin_timestamps(tmp, created)


def _no_rows(name: str) -> Callable[[pd.DataFrame], None]:
    def write(part: pd.DataFrame) -> None:
        if len(part):
            raise ValueError(f"dataset {name}: rows given to write, but its shape has none")
    return write


def as_stored(data: pd.DataFrame) -> pd.DataFrame:
    """Numbers as doubles (Int64 with NA becomes float with NaN: a SAS missing value), text as object."""
    out = {}
    for col in data.columns:
        s = data[col]
        # pyreadstat is ~3x slower on pandas 3 string columns than on object (LIBRARIES.md)
        out[col] = s.astype("float64") if pd.api.types.is_numeric_dtype(s) else s.astype(object)
    return frame_of_columns(out, data.index).reset_index(drop=True)  # rows as given, whatever their index


_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"


def _records_start(head: bytes, path: Path) -> int:
    """Offset of the first observation record: the 80-byte record after the OBS header (TS-140)."""
    at = head.find(_OBS_HEADER)
    if at < 0 or at % xpt_rows.RECORD:  # pragma: no cover - a pyreadstat layout change
        raise MscInteropError(f"{path.name}: unexpected XPT header layout from pyreadstat")
    return at + xpt_rows.RECORD


def read_xpt(path: Path, *, note_dates: bool = True, decimals: bool = True) -> tuple[str, pd.DataFrame]:
    """Read an XPT file: (dataset name, data). Character variables as str ("" for missing), numbers float64.
    SAS numeric dates come back as ISO 8601 text, each such variable named in a note (`note_dates`: an SDTM
    package's are not as SDTM has them; ADaM's TRTSDT, ASTDT ... are numeric dates by design: no note).

    Integer variables come back as float64 (XPT has only doubles); `conform()` (the Study) restores them.
    A number whose IBM double held more digits than a double keeps is rounded to SAS's 15 significant digits
    (8.55, not 8.549999999999999: xpt_read.py says why); whole numbers stay exact. `decimals=False`: every bit
    as stored (ADaM files msc-interop derived: a CHG of 0.6999999999999997 reads back as derived).
    A cut file, or one holding more than one dataset, is refused (InputError) before its rows are read:
    XPT has no row count, so what the bytes can tell is checked (xpt_layout; a cut on a row boundary that
    is also an 80-byte boundary cannot be told and reads as a shorter dataset).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        check_xpt_layout(path)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot be read: {exc}") from exc
    try:
        # text decoded per file (UTF-8, else Windows-1252); numbers as the writer meant them (xpt_read decimals)
        df, meta = text_encoding.read_xport(path, decimals=decimals)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path.name}: not a readable SAS XPORT (XPT) file: {exc}") from exc
    except OverflowError as exc:  # pyreadstat turning a number under a SAS date format into a Python date
        raise InputError(f"{path.name}: a number under a SAS date or datetime format (DATE9., DATETIME20., ...) is "
                         f"no date of the years 1-9999, so the file's dates cannot be read: {exc}") from exc
    name = (meta.table_name or path.stem).upper()
    # SAS numeric dates as ISO 8601 text, and a numeric --DTC as text too: SDTM --DTC is character (a note each)
    numeric = {c: f for c, f in numeric_formats(path).items() if c in df.columns}
    dates = {c: f for c, f in numeric.items() if is_date_format(f)}
    texts = dates | {c: f for c, f in numeric.items() if c.endswith("DTC")}
    out = {}
    for col in df.columns:
        s = df[col]
        out[col] = iso_text(s) if col in dates else s if col not in texts and pd.api.types.is_numeric_dtype(s) \
            else as_text(s)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(df)))
    if note_dates:
        text_encoding.sas_dates_read(path.name, name, frame, texts)
    # what the file states, for a conversion that must keep it (sdtm/package.py)
    # a blank label (XPT v5 allows it; pyreadstat gives None) is "": the package's label, empty
    labels = {k: v or "" for k, v in (meta.column_names_to_labels or {}).items()}
    frame.attrs[XPT_ATTRS] = {"labels": labels, "label": meta.file_label or "",
                              "lengths": {k: w for k, w in (meta.variable_storage_width or {}).items()
                                          if k not in texts},  # (a number's 8 bytes are no text length)
                              "encoding": text_encoding.encoding_of(path, frame)}
    return name, frame


def iso_text(s: pd.Series) -> pd.Series:
    """A SAS numeric date, date-time or time variable as pyreadstat reads it (date, Timestamp, time objects) as
    ISO 8601 text: 2014-01-03, 2014-01-03T13:45:30 (SDTMIG --DTC: a T between date and time), 13:45:30;
    "" for a missing value."""
    def one(v: object) -> str:
        if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            return ""
        if hasattr(v, "hour") and hasattr(v, "year"):  # a date-time
            return v.isoformat(timespec="seconds" if not v.microsecond else "milliseconds")  # type: ignore[attr-defined]
        return v.isoformat() if hasattr(v, "isoformat") else str(v)  # a date, a time
    return per_distinct(lambda u: u.map(one).astype(object), s.astype(object)).astype(object)  # (per date, not row)


def _conformed(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The Study's canonical dtypes (conform), keeping the caller's column order."""
    out = conform(name, df)
    cols = [str(c) for c in df.columns]
    return out if list(out.columns) == cols else out[cols]


# SAS XPORT v5 (SAS TS-140): the library header's 2nd and 3rd 80-byte records and the member header's
# 2nd and 3rd (the 6th and 7th records of a one-dataset file) carry "created" and "modified" stamps,
# ddMMMyy:hh:mm:ss, at these byte offsets.
_STAMP_OFFSETS = (144, 160, 464, 480)
_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def sas_datetime(created: str) -> str:
    """ISO 8601 date-time -> the XPT header form ddMMMyy:hh:mm:ss (locale-independent month names)."""
    m = iso8601.DATETIME_SECONDS.match(created)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise MscInteropError(f"creation date/time {created!r} is not of the form YYYY-MM-DDThh:mm:ss")
    year, month, day, hh, mm, ss = m.groups()
    return f"{day}{_MONTHS[int(month) - 1]}{year[2:]}:{hh}:{mm}:{ss}"


def _pin_timestamps(path: Path, created: str) -> None:
    stamp = sas_datetime(created).encode("ascii")
    with open(path, "r+b") as fh:
        head = bytearray(fh.read(_STAMP_OFFSETS[-1] + 16))
        for at in _STAMP_OFFSETS:
            if not _STAMP.fullmatch(head[at:at + 16]):  # pragma: no cover - a pyreadstat layout change
                raise MscInteropError(f"{path.name}: unexpected XPT header layout; cannot set the creation time")
            head[at:at + 16] = stamp
        fh.seek(0)
        fh.write(head)


def _name_problem(what: str, value: object, where: str) -> str:
    text = str(value)
    if len(text) > MAX_NAME:
        return f"{where}: {what} {text!r} is {len(text)} characters (limit {MAX_NAME})"
    return (f"{where}: {what} {text!r} is not allowed (upper-case letters A-Z, digits and _, "
            f"letter first, at most {MAX_NAME} characters)")


def _label_problems(label: str, where: str, encoding: str | None = None) -> list[str]:
    out = []
    if len(label) > MAX_LABEL:
        out.append(f"{where} {label!r} is {len(label)} characters (limit {MAX_LABEL})")
    if not label.isascii() and (encoding is None or not xpt_text.is_utf8(encoding)):
        out.append(f"{where} {label!r} is not ASCII (XPT v5 holds ASCII text only)")
    return out


def _fits_plainly(s: pd.Series) -> bool:
    """Whether a character variable's distinct values are all ASCII and at most MAX_VALUE_BYTES long, so no
    value can break a limit (two C-level passes over the distinct values; the rows only when one might). Only
    where the codes are shared (to-sdtm of a whole study); False sends the caller to the pass over the rows."""
    if not sharing():  # alone, a factorization costs more than the row pass it would save
        return False
    values = as_text(pd.Series(column_codes(s)[1], dtype=object)).tolist()
    return not values or ("".join(values).isascii() and max(map(len, values)) <= MAX_VALUE_BYTES)


def _value_problems(text: pd.Series, where: str, encoding: str | None = None,
                    origins: Mapping[str, tuple[str, int, str]] | None = None, row_offset: int = 0) -> list[str]:
    """Over-long and non-ASCII values of one character variable (fast path: one pass when all ASCII).
    With an `encoding`, non-ASCII values are written in it: only those it cannot hold are problems."""
    values = text.to_numpy(dtype=object)
    if not len(values):
        return []
    out = []
    if "".join(values).isascii():  # a byte a character: lengths counted only when one is over the limit
        longest = max(map(len, values))
        nbytes = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) if longest > MAX_VALUE_BYTES \
            else np.zeros(0, dtype=np.int64)
        bad_ascii = np.zeros(len(values), dtype=bool)
    elif encoding is not None:
        bad = xpt_text.unencodable(text, encoding)
        if bad:
            shown = ", ".join(f"row {i + 1 + row_offset} {v!r}" + _origin(v, origins) for i, v in bad[:_SHOW_ROWS])
            more = f" and {len(bad) - _SHOW_ROWS} more row(s)" if len(bad) > _SHOW_ROWS else ""
            out.append(f"{where}: {len(bad)} value(s) that {xpt_text.display_name(encoding)} cannot hold "
                       f"(--xpt-encoding utf-8 holds every character): {shown}{more}")
        nbytes = np.fromiter((len(v.encode(encoding, errors="replace")) for v in values), dtype=np.int64,
                             count=len(values))
        bad_ascii = np.zeros(len(values), dtype=bool)
    else:
        nbytes = np.fromiter((len(v.encode("utf-8")) for v in values), dtype=np.int64, count=len(values))
        bad_ascii = ~np.fromiter(map(str.isascii, values), dtype=bool, count=len(values))
    too_long = np.flatnonzero(nbytes > MAX_VALUE_BYTES)
    if len(too_long):
        shown = ", ".join(f"row {i + 1 + row_offset} ({nbytes[i]} bytes)" for i in too_long[:_SHOW_ROWS])
        more = f" and {len(too_long) - _SHOW_ROWS} more row(s)" if len(too_long) > _SHOW_ROWS else ""
        first = values[too_long[0]]
        out.append(f"{where}: {len(too_long)} value(s) longer than {MAX_VALUE_BYTES} bytes: {shown}{more}; "
                   f"first starts {first[:40]!r}")
    non_ascii = np.flatnonzero(bad_ascii)
    if len(non_ascii):
        shown = ", ".join(f"row {i + 1 + row_offset} {values[i]!r}" for i in non_ascii[:_SHOW_ROWS])
        more = f" and {len(non_ascii) - _SHOW_ROWS} more row(s)" if len(non_ascii) > _SHOW_ROWS else ""
        out.append(f"{where}: {len(non_ascii)} value(s) not ASCII (XPT v5 holds ASCII only; "
                   f"e.g. write umol/L for μmol/L): {shown}{more}")
    return out


def text_notes(df: pd.DataFrame, name: str, encoding: str, origins: Mapping[str, tuple[str, int, str]] | None = None,
               file: str | None = None) -> list[str]:
    """One note per character variable holding non-ASCII text: how many values, the first (its study record
    when `origins` knows it), and the encoding the XPT file carries them in."""
    return [text_note(name, col, seen, encoding, origins, file) for col, seen in non_ascii_seen(df).items()]


def non_ascii_seen(df: pd.DataFrame, row_offset: int = 0) -> dict[str, tuple[int, str, int]]:
    """Per character variable holding non-ASCII text: (how many values, the first, its 0-based row +
    `row_offset`). A partitioned run sums these over its partitions (sdtm/partitioned.py)."""
    out = {}
    for col, values in xpt_text.non_ascii_columns(df):
        rows = [i for i, v in enumerate(values) if isinstance(v, str) and not v.isascii()]
        out[str(col)] = (len(rows), values[rows[0]], rows[0] + row_offset)
    return out


def text_note(name: str, col: str, seen: tuple[int, str, int], encoding: str,
              origins: Mapping[str, tuple[str, int, str]] | None = None, file: str | None = None) -> str:
    """The note about one variable's non-ASCII text (`seen`: count, first value, its 0-based row)."""
    count, first, row = seen
    target = file or f"{name.lower()}.xpt"
    where = f"dataset {name} row {row + 1}"
    if origins and first in origins:
        src, src_row, field_name = origins[first]
        where = f"{src} row {src_row}, field {field_name} ({where})"
    return (f"{target}: {name}.{col} has {count} non-ASCII value(s), e.g. {first!r} from {where}; "
            f"written in {xpt_text.display_name(encoding)}: XPT v5 cannot state its encoding and the FDA "
            "accepts ASCII only, so tell the reader (SAS ENCODING=, pyreadstat encoding=); "
            "--xpt-encoding chooses another")


def _origin(value: str, origins: Mapping[str, tuple[str, int, str]] | None) -> str:
    if not origins or value not in origins:
        return ""
    file, row, field_name = origins[value]
    return f" (from {file} row {row}, field {field_name})"
