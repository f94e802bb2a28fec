"""The text of SDTM files that do not state their encoding: XPT v5 and CSV carry none.

Sponsor packages are UTF-8, Windows-1252 (SAS on Windows: 0x92 is its apostrophe) or Latin-1. A file is read
byte for byte (as Latin-1, which maps every byte to one character) and its non-ASCII values are then decoded
per file: UTF-8 when every one of them is valid UTF-8, else Windows-1252. Latin-1 and Windows-1252 agree on
every byte except 0x80-0x9F, where Latin-1 has only control characters, so a Latin-1 file reads the same as
Windows-1252 (the note says so). A value that is text in no candidate (not UTF-8, and holding one of the five
bytes Windows-1252 leaves undefined) is kept with those bytes written \\xNN and listed, with its file, row and
variable: nothing is dropped and the folder stays readable. `--encoding` names the encoding instead.
A file read as Windows-1252 that also holds values valid as UTF-8 (a sponsor's file put together from two
sources: "RÉACTION" as UTF-8 bytes beside "Alzheimer\x92s") mixes encodings: those values read as
Windows-1252 are most likely mojibake ("RÃ‰ACTION"); each variable's first such record is logged (`Doubtful`)
so that to-sdtm notes it and validate warns (MSC-IO-005), naming the file, variable and row.

Readers call `read_xport` / `read_csv` here; a caller that wants to know what was decoded (validate, to-sdtm)
wraps the reading in `reading(encoding)` and gets the log:

    >>> with reading() as log:                                  # doctest: +SKIP
    ...     name, df = read_xpt(Path("pilot/ts.xpt"))
    >>> log.files[0].encoding                                    # doctest: +SKIP
    'cp1252'
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.errors import InputError
from msc_interop.sdtm.xpt_read import NotHandled, read_xport_columns

AUTO_CANDIDATES = ("utf-8", "cp1252", "latin-1")
_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1"}
_C1 = frozenset(chr(c) for c in range(0x80, 0xA0))  # where Latin-1 differs from Windows-1252 (controls only)


@dataclass(frozen=True)
class FileEncoding:
    """How one file's non-ASCII text was decoded: the encoding, how it was chosen, one example."""

    file: str
    encoding: str
    given: bool  # True: --encoding; False: detected
    n_values: int  # distinct non-ASCII values
    variable: str
    row: int | None
    example: str
    latin1_same: bool = False  # no byte in 0x80-0x9F: Latin-1 would read the same text

    @property
    def name(self) -> str:
        base = _NAMES.get(self.encoding, self.encoding)
        return f"{base} (Latin-1 reads it the same)" if self.encoding == "cp1252" and self.latin1_same else base


@dataclass(frozen=True)
class Undecodable:
    """A value that is text in no candidate encoding; `value` shows its odd bytes as \\xNN."""

    file: str
    row: int | None  # 1-based data row; None for a label
    variable: str
    value: str
    tried: str


@dataclass(frozen=True)
class Doubtful:
    """The first value of a variable that is valid UTF-8 in a file read as Windows-1252 (mixed encodings)."""

    file: str
    row: int | None  # 1-based data row; None for a label
    variable: str
    value: str  # as read (Windows-1252)
    as_utf8: str  # the same bytes read as UTF-8
    count: int  # distinct such values of the variable


@dataclass
class DecodeLog:
    """What the reads inside one `reading()` decoded: files not in UTF-8/ASCII, values in no encoding."""

    encoding: str | None = None
    files: list[FileEncoding] = field(default_factory=list)
    undecodable: list[Undecodable] = field(default_factory=list)
    doubtful: list[Doubtful] = field(default_factory=list)  # values valid UTF-8 in a file read as Windows-1252
    dates: list[str] = field(default_factory=list)  # SAS numeric dates read as ISO 8601 text, numeric --DTC

    def notes(self) -> list[str]:
        """One line per file read in a non-UTF-8 encoding and per value in no encoding (for reject reports)."""
        out = [f"{Path(f.file).name}: text is not UTF-8; read as {f.name} "
               f"({f.n_values} distinct non-ASCII value(s), e.g. {f.variable} row {f.row}: {f.example!r})"
               if not f.given else
               f"{Path(f.file).name}: text read as {f.name} (--encoding)" for f in self.files if f.encoding != "utf-8"]
        out += [f"{Path(u.file).name} {'row ' + str(u.row) if u.row else 'label'}, {u.variable}: the bytes are text "
                f"in no encoding tried ({u.tried}); kept as {u.value!r} with the odd bytes written \\xNN"
                for u in self.undecodable]
        out += [f"{Path(d.file).name} ({Path(d.file).stem.upper()}) {'row ' + str(d.row) if d.row else 'label'}, "
                f"{d.variable}: the file mixes encodings: read as Windows-1252 as the file's other text, this value "
                f"is {d.value!r}, but its bytes are valid UTF-8 ({d.as_utf8!r}), as are {d.count} distinct value(s) "
                "of the variable: the decoding is doubtful; check the source, or give --encoding"
                for d in self.doubtful]
        return out + self.dates


_LOG: ContextVar[DecodeLog | None] = ContextVar("msc_interop_text_encoding", default=None)


def sas_dates_read(file: str, name: str, frame: pd.DataFrame, texts: Mapping[str, str]) -> None:
    """Say, in the notes of the reads in progress, which numeric variables of an XPT file were read as text
    (`texts`: variable -> SAS format, "" for none): a SAS date/time (its format says so) as ISO 8601 text, a
    numeric --DTC with no date format as the text of its numbers (what they count is not stated). SDTM dates are
    ISO 8601 character values (SDTMIG 3.4 section 4.4.1); `validate` reports the numeric --DTC (MSC-XPT-006)."""
    log = _LOG.get()
    if log is None:
        return
    for col, fmt in texts.items():
        first = next((v for v in frame[col] if v), "")
        if fmt:
            log.dates.append(f"{file}: {name}.{col} is a SAS numeric date/time (format {fmt}); read and written as "
                             f"ISO 8601 text (e.g. {first!r}), as SDTM has dates")
        else:
            log.dates.append(f"{file}: {name}.{col} is numeric with no SAS date format, so what its numbers count is "
                             f"not stated; SDTM --DTC is text: written as the text of each number (e.g. {first!r}), "
                             "not an ISO 8601 date")


def check_encoding(name: str | None) -> str | None:
    """The codec name for --encoding (None: detect); InputError naming the option for an unknown one."""
    if name is None or name == "":
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise InputError(f"--encoding {name!r} is not an encoding Python knows "
                         "(e.g. utf-8, cp1252, latin-1)") from None
    return {"iso8859-1": "latin-1", "windows-1252": "cp1252"}.get(codec, codec)


@contextmanager
def reading(encoding: str | None = None) -> Iterator[DecodeLog]:
    """Decode the text of the files read inside with `encoding` (None: detect per file); yields the log."""
    log = DecodeLog(check_encoding(encoding))
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)


def read_xport(path: str | Path, **kwargs: Any) -> tuple[pd.DataFrame, Any]:
    """pyreadstat.read_xport with the character values and labels decoded as described above.

    Without --encoding a file is first read as UTF-8 (the fast path for the usual ASCII / UTF-8 file); only a
    file that is not valid UTF-8 is read again byte for byte and decoded here. The rows are read column-wise
    (sdtm/xpt_read.py); pyreadstat reads what that reader leaves to it.
    """
    log = _LOG.get()
    if log is None or log.encoding is None:
        try:
            return _read_xport(path, "utf-8", **kwargs)
        except UnicodeDecodeError:
            pass
    df, meta = _read_xport(path, "latin-1", **kwargs)
    labels = dict(meta.column_names_to_labels or {})
    texts = {f"label of {k}": v for k, v in labels.items() if isinstance(v, str)}
    if isinstance(meta.file_label, str):
        texts["dataset label"] = meta.file_label
    df, decoded = decode_frame(df, str(path), texts)
    meta.column_names_to_labels = {k: decoded.get(f"label of {k}", v) for k, v in labels.items()}
    meta.column_labels = [meta.column_names_to_labels.get(c) for c in (meta.column_names or [])]
    if isinstance(meta.file_label, str):
        meta.file_label = decoded["dataset label"]
    return df, meta


def _read_xport(path: str | Path, encoding: str, **kwargs: Any) -> tuple[pd.DataFrame, Any]:
    import pyreadstat

    decimals = bool(kwargs.pop("decimals", False))
    if set(kwargs) <= {"metadataonly"}:
        try:
            return read_xport_columns(Path(path), encoding, metadataonly=bool(kwargs.get("metadataonly")),
                                      decimals=decimals)
        except NotHandled:
            pass
    if encoding == "utf-8":
        df, meta = pyreadstat.read_xport(str(path), **kwargs)
    else:
        df, meta = pyreadstat.read_xport(str(path), encoding="latin1", **kwargs)
    return (_with_decimals(Path(path), df) if decimals else df), meta


def _with_decimals(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    """pyreadstat's frame (a V5 file with SAS date formats) with its other numbers read as the writer meant them
    (xpt_read `decimals`); a file the column reader cannot read (V8) keeps pyreadstat's numbers."""
    numbers = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    if not numbers or df.empty:
        return df
    try:
        fixed, _ = read_xport_columns(path, "latin-1", columns=numbers, decimals=True)
    except NotHandled:
        return df
    if len(fixed) != len(df):  # pragma: no cover - both read the same rows
        return df
    out = df.copy()
    for c in fixed.columns:
        out[c] = fixed[c].to_numpy()
    return out


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """pandas.read_csv (text columns) with the text decoded as described above; a UTF-8 BOM is dropped.
    As for XPT, a valid UTF-8 file is read as such at once (without --encoding)."""
    log = _LOG.get()
    if log is None or log.encoding is None:
        try:
            return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
        except UnicodeDecodeError:
            pass
    df = pd.read_csv(path, encoding="latin-1", **kwargs)
    bom = "\xef\xbb\xbf"
    names = [str(c) for c in df.columns]
    if names and names[0].startswith(bom):
        names[0] = names[0][len(bom):]
    headers = {f"column {i + 1} name": n for i, n in enumerate(names)}
    df, decoded = decode_frame(df, str(path), headers)
    df.columns = [decoded[f"column {i + 1} name"] for i in range(len(names))]
    return df


def decode_frame(df: pd.DataFrame, file: str, texts: Mapping[str, str] | None = None
                 ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame (read as Latin-1) with its text decoded, and `texts` (labels, names by key) decoded alike."""
    log = _LOG.get()
    given = log.encoding if log is not None else None
    texts = dict(texts or {})
    columns: dict[str, np.ndarray] = {}
    raw: set[str] = {t for t in texts.values() if not t.isascii()}
    first: tuple[str, int | None, str] | None = None
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) or not len(s):
            continue
        values = s.to_numpy(dtype=object)
        if _all_ascii(values):
            continue
        columns[str(col)] = values
        odd = [v for v in pd.unique(values) if isinstance(v, str) and not v.isascii()]
        raw.update(odd)
        if first is None and odd:
            row = int(np.flatnonzero(values == odd[0])[0]) + 1
            first = (str(col), row, odd[0])
    if not raw:
        return df, texts
    encoding, table, bad = _decode_all(raw, given)
    if first is None:
        key = next(k for k, v in texts.items() if not v.isascii())
        first = (key, None, texts[key])
    if log is not None:
        log.files.append(FileEncoding(file, encoding, given is not None, len(raw), first[0], first[1],
                                      table[first[2]], latin1_same=not any(set(v) & _C1 for v in raw)))
    out = df.copy() if columns else df
    for col, values in columns.items():
        decoded = np.array([table.get(v, v) if isinstance(v, str) else v for v in values], dtype=object)
        out[col] = pd.Series(decoded, index=df.index, dtype=object)
        if log is not None and bad:
            for v in bad & set(values.tolist()):
                for row in np.flatnonzero(values == v).tolist():
                    log.undecodable.append(Undecodable(file, row + 1, col, table[v], _tried(given)))
    decoded_texts = {k: table.get(v, v) for k, v in texts.items()}
    if log is not None and given is None and encoding != "utf-8":
        log.doubtful += _doubtful(file, columns, texts, table)
    if log is not None:
        log.undecodable += [Undecodable(file, None, k, decoded_texts[k], _tried(given))
                            for k, v in texts.items() if v in bad]
    return out, decoded_texts


def _doubtful(file: str, columns: Mapping[str, np.ndarray], texts: Mapping[str, str], table: Mapping[str, str]
              ) -> list[Doubtful]:
    """Per variable (and label) of a file read as Windows-1252, its first value whose bytes are valid UTF-8."""
    utf8 = {v: u for v in table if (u := _as_utf8(v)) is not None}
    if not utf8:
        return []
    out = []
    for col, values in columns.items():
        hits = np.flatnonzero(pd.Series(values).isin(list(utf8)).to_numpy())
        if len(hits):
            v = values[hits[0]]
            count = len({x for x in values[hits].tolist()})
            out.append(Doubtful(file, int(hits[0]) + 1, col, table[v], utf8[v], count))
    out += [Doubtful(file, None, k, table[v], utf8[v], 1) for k, v in texts.items() if v in utf8]
    return out


def _as_utf8(latin1: str) -> str | None:
    """A value read byte for byte (Latin-1) as UTF-8 text; None when its bytes are not UTF-8."""
    try:
        return latin1.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return None


def _all_ascii(values: np.ndarray) -> bool:
    try:
        return "".join(values.tolist()).isascii()
    except TypeError:  # a missing value among the text
        return "".join(v for v in values.tolist() if isinstance(v, str)).isascii()


def _tried(given: str | None) -> str:
    if given is not None:
        return _NAMES.get(given, given)
    return ", ".join(_NAMES[c] for c in AUTO_CANDIDATES)


def _decode_all(raw: set[str], given: str | None) -> tuple[str, dict[str, str], set[str]]:
    """(encoding used, Latin-1 text -> decoded text, the values that are text in no candidate)."""
    as_bytes = {v: v.encode("latin-1") for v in raw}
    if given is None:
        try:
            return "utf-8", {v: b.decode("utf-8") for v, b in as_bytes.items()}, set()
        except UnicodeDecodeError:
            encoding = "cp1252"
    else:
        encoding = given
    table: dict[str, str] = {}
    bad: set[str] = set()
    for v, b in as_bytes.items():
        try:
            table[v] = b.decode(encoding)
        except UnicodeDecodeError:
            table[v] = b.decode(encoding, errors="backslashreplace")
            bad.add(v)
    return encoding, table, bad


def encoding_of(path: str | Path, df: pd.DataFrame) -> str | None:
    """The encoding a file's non-ASCII text was read in (None: it had none), from the current reading() log."""
    texts = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if all(_all_ascii(df[c].to_numpy(dtype=object)) for c in texts):
        return None
    log = _LOG.get()
    for f in log.files if log is not None else ():
        if f.file == str(path):
            return f.encoding
    return "utf-8"
