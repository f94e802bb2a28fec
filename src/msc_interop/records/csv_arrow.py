"""A plain records CSV read by Arrow's CSV reader into text columns whose distinct values are found by the reader.

Why: pandas' C parser makes one Python string per cell (1M lab rows x 9 columns: 9M objects, ~600 MB touched,
~1.3 s), and the reader then factorizes every column again to strip its values. Arrow parses the bytes in C++ and
dictionary-encodes each column as it goes: only the distinct values (a few tens of thousands) become Python
strings, each column is an array of references to them, and its codes are handed to `distinct` (known to every
later step within shared_columns()).

Only a file whose meaning both parsers agree on is read here: no '"' at all (quoting rules differ at the edges:
a stray quote, a quoted value spanning lines), no control character, a header of named columns, and one record
per non-blank line with as many values as the header. Anything else (and any file Arrow refuses) returns None
and pandas reads it as before, with its line-numbered errors (csv_text.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import coded

_BLOCK = 1 << 24  # bytes Arrow parses at a time; a line longer than this is refused (pandas reads the file)


Parsed = dict[str, tuple[np.ndarray, np.ndarray]]  # header name -> (codes, distinct values) of each column
RowsWanted = Callable[[Parsed], np.ndarray]
_THREADS_BLOCK = 1 << 22  # with Arrow's threads: a 96 MB file in 24 blocks, 0.17 s on two cores against 0.43 s


def read_plain_csv(raw: bytes, header: list[str], records: int, wanted: RowsWanted | None = None
                   ) -> tuple[pd.DataFrame, np.ndarray | None] | None:
    """The text table of `raw` (UTF-8, already checked), columns named `header` (the first non-blank line split
    at commas), or None when the file is not plain (see the module docstring) or does not hold `records`
    records (the non-blank lines after the header): the caller then reads it with pandas. `wanted(columns)`
    (each column's codes and distinct values, by header name): a mask of the records to keep (the rows of some
    subjects: records/subject_share.py), applied to the codes before any column is made. Returns the table and
    the positions of the records kept (None: all)."""
    parsed = parse_plain_csv(raw, header, records)
    return None if parsed is None else plain_frame(parsed, wanted)


def parse_plain_csv(raw: bytes, header: list[str], records: int | None, threads: bool = False) -> Parsed | None:
    """read_plain_csv's parse, each column as its codes and distinct values (in order of first appearance), before
    any column is made. `threads`: Arrow parses blocks on every core (a load about to fork: sdtm/load_in_two.py;
    elsewhere one thread, see below). `records` None: not checked here (the caller counts the lines meanwhile)."""
    if not header or any(not c.strip(" \t") for c in header) or header[0].startswith("\ufeff") \
            or len(set(header)) < len(header) or b'"' in raw:
        return None  # (an empty or blank column name, a second BOM, a name twice: pandas' reading differs)
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - a dependency; without it every file is read by pandas
        return None
    text = pa.dictionary(pa.int32(), pa.string())
    # malloc's pool, one thread: what the table took is given back by runtime.trim_freed_memory (Arrow's own pool,
    # and the malloc arenas of its reading threads, kept ~90 MB of a 1M-row file past the read: the threads saved
    # 0.1 s of 1.5)
    pool = pa.system_memory_pool()
    try:
        table = pacsv.read_csv(
            pa.py_buffer(raw),
            read_options=pacsv.ReadOptions(block_size=_THREADS_BLOCK if threads else _BLOCK, use_threads=threads),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, text), null_values=[],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
            memory_pool=pool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a row of other length, a line over _BLOCK, ...
        return None
    if table.column_names != header or (records is not None and table.num_rows != records) or table.num_rows == 0:
        return None
    table = table.unify_dictionaries(memory_pool=pool)  # one dictionary per column, values in order of first appearance
    parsed = {}
    for name in header:
        chunks = table.column(name).chunks
        if any(chunk.null_count for chunk in chunks):  # pragma: no cover - nulls are off above
            return None
        codes = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in chunks])
        parsed[name] = (codes, chunks[0].dictionary.to_numpy(zero_copy_only=False).astype(object))
    return parsed


def plain_frame(parsed: Parsed, wanted: RowsWanted | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The table of a parse (parse_plain_csv), of the records `wanted` keeps, each column's codes known within
    shared_columns(); and the positions of the records kept (None: all)."""
    kept = None if wanted is None else np.flatnonzero(wanted(parsed))
    index = pd.RangeIndex(len(next(iter(parsed.values()))[0]) if kept is None else len(kept))
    # the first records only (a share of the subjects in a file sorted by them): their codes number the first of
    # the distinct values, so those are the choices (no renumbering of half a million codes per column)
    first = kept is not None and len(kept) > 0 and kept[-1] == len(kept) - 1
    columns = {}
    for name, (codes, uniques) in parsed.items():
        if first:
            codes = codes[:len(kept)].copy()  # (a copy: the whole parse is freed once read)
            uniques = uniques[:int(codes.max()) + 1]
        elif kept is not None:
            codes = codes[kept]
        columns[name] = coded(codes, uniques, index)
    return frame_of_columns(columns, index), kept
