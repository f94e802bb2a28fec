"""Dataset-JSON rows assembled column-wise (sdtm/json_encoded.py) are byte for byte orjson's rows.

The reference is the row-wise path the writer had: each row a list of the Python values `_Encoder.slice` gives,
encoded by orjson. Hypothesis draws frames of every column kind with the values that encode differently from
what equality says (0.0 / -0.0, NaN, inf, 1 / 1.0 / True in a text column, quotes and backslashes, "],[").
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msc_interop.sdtm import datasetjson, json_encoded
from msc_interop.sdtm.datasetjson import write_dataset_json

# text built from the characters JSON's quoting turns on (a quote, a comma, a backslash, NUL, a bracket), and
# values written plainly: every text a value can be, where it matters ('x",' ends in an escaped quote and a comma)
TEXT = st.one_of(st.text(alphabet='",\\\x00[]aé\n', max_size=6),
                 st.sampled_from(["", ",", 'x",', '","', "],[", "S-01", "💊", "a,b"]))
FLOATS = st.sampled_from([0.0, -0.0, 1.5, -2.25, 1e16, 1.5e-7, float("nan"), float("inf"), 123456789.125])
INTS = st.one_of(st.none(), st.integers(-50, 50), st.integers(-2**52, 2**52))
KINDS = ("string", "integer", "float", "decimal", "mixed")


def _column(kind: str, n: int) -> st.SearchStrategy:
    """A column of `n` values of one kind, drawn from a few values (so that neighbouring columns merge) or from
    all of them."""
    if kind == "string":
        values, dtype = st.one_of(TEXT, st.none()), object
    elif kind == "integer":
        values, dtype = INTS, "Int64"
    elif kind == "mixed":  # equal across types (1 == 1.0 == True), written differently
        values, dtype = st.sampled_from([1, 1.0, True, "1", None, 0, False]), object
    else:
        values, dtype = FLOATS, "float64"
    palette = st.lists(values, min_size=1, max_size=3).flatmap(st.sampled_from)
    return st.one_of(st.lists(palette, min_size=n, max_size=n), st.lists(values, min_size=n, max_size=n)).map(
        lambda v: pd.Series(v, dtype=dtype))


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str]]:
    n = draw(st.integers(0, 120))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=0, max_size=7))
    data = {f"C{i}": draw(_column(kind, n)) for i, kind in enumerate(kinds)}
    types = ["string" if k == "mixed" else k for k in kinds]
    return pd.DataFrame(data, index=pd.RangeIndex(n)), types


def _encoders(df: pd.DataFrame, types: list[str]) -> list[datasetjson._Encoder]:
    return [datasetjson._Encoder(df[c], t) for c, t in zip(df.columns, types, strict=True)]


def reference_rows(df: pd.DataFrame, types: list[str]) -> list[list]:
    """The rows as the row-wise writer made them: a list of Python values per row."""
    slices = [e.slice(0, len(df)) for e in _encoders(df, types)]
    return [[s[i] for s in slices] for i in range(len(df))]


@contextlib.contextmanager
def many_distinct(n: int) -> Iterator[None]:
    """json_encoded.MANY set to `n`: columns of more distinct values are Deferred (encoded a chunk at a time)."""
    was = json_encoded.MANY
    json_encoded.MANY = n
    try:
        yield
    finally:
        json_encoded.MANY = was


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.integers(1, 300), st.sampled_from([b"\n", b","]), st.sampled_from([json_encoded.MANY, 0, 2]))
def test_rows_are_orjsons_rows_byte_for_byte(frame: tuple[pd.DataFrame, list[str]], chunk_bytes: int,
                                             row_end: bytes, many: int) -> None:
    df, types = frame
    with many_distinct(many):
        pieces = [e.piece() for e in _encoders(df, types)]
        chunks = list(json_encoded.row_chunks(pieces, len(df), row_end, chunk_bytes))
    expected = b"".join(orjson.dumps(row) + row_end for row in reference_rows(df, types))
    assert b"".join(chunks) == expected
    assert all(chunks)  # no empty chunk


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.lists(st.integers(0, 120), max_size=4), st.booleans(), st.sampled_from([json_encoded.MANY, 1]))
def test_a_dataset_given_as_frames_is_the_dataset_written_whole(frame: tuple[pd.DataFrame, list[str]],
                                                                 cuts: list[int], ndjson: bool, many: int) -> None:
    """write_frames (a partitioned run's consecutive frames, empty ones too, each with its own distinct values)
    writes the bytes write_conformed writes of the whole."""
    df, _types = frame
    bounds = sorted({0, len(df), *(min(c, len(df)) for c in cuts)})
    parts = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)] + [df.iloc[0:0]]
    with tempfile.TemporaryDirectory() as tmp, many_distinct(many):
        whole, framed = Path(tmp) / "whole", Path(tmp) / "framed"
        datasetjson.write_conformed(df, "XX", whole, ndjson=ndjson, created="2026-01-01T00:00:00")
        datasetjson.write_frames(df, lambda: iter(parts), len(df), "XX", framed, ndjson=ndjson,
                                 created="2026-01-01T00:00:00")
        assert framed.read_bytes() == whole.read_bytes()
        if not ndjson:
            assert len(orjson.loads(whole.read_bytes())["rows"]) == len(df)


def test_text_ending_in_a_quote_and_a_comma_is_one_value() -> None:
    """The one-call encoding of a column's distinct texts splits at '","': the text "," and a text ending in '",'
    hold it too, and are encoded on their own."""
    for values in ([",", "b"], ['said "fine",', "ok"], ["ok", 'x",'], [","]):
        codes, encoded = json_encoded.encoded_text(pd.Series(values, dtype=object))
        assert [orjson.loads(e) for e in encoded[codes]] == values


def test_a_column_of_many_distinct_values_is_encoded_a_chunk_at_a_time() -> None:
    """An identifier a row: Deferred (its million encodings never held at once), the rows as orjson's."""
    n = json_encoded.MANY + 100
    df = pd.DataFrame({"STUDYID": ["S1"] * n, "ID": [f"R{i}" for i in range(n)], "N": np.arange(n) * 0.5})
    pieces = [e.piece() for e in _encoders(df, ["string", "string", "float"])]
    assert [isinstance(p, json_encoded.Deferred) for p in pieces] == [False, True, True]
    blob = b"".join(json_encoded.row_chunks(pieces, n, b"\n", 1 << 16))
    assert blob == b"".join(orjson.dumps(row) + b"\n" for row in reference_rows(df, ["string", "string", "float"]))


def test_a_chunk_is_about_the_bytes_asked_for() -> None:
    df = pd.DataFrame({"A": ["x" * 10] * 1000, "B": np.arange(1000, dtype=np.int64)})
    pieces = [e.piece() for e in _encoders(df, ["string", "integer"])]
    chunks = list(json_encoded.row_chunks(pieces, len(df), b"\n", 1000))
    assert len(chunks) > 10  # a row is ~20 bytes: ~50 rows a chunk
    assert max(map(len, chunks)) <= 1000


def test_zero_and_negative_zero_are_kept_apart() -> None:
    codes, encoded = json_encoded.encoded_floats(np.array([0.0, -0.0, 0.0, np.nan, -np.nan]))
    assert [encoded[c] for c in codes] == [b"0.0", b"-0.0", b"0.0", b"null", b"null"]


def test_text_equal_across_types_is_encoded_row_by_row() -> None:
    s = pd.Series([1, 1.0, True, "1"], dtype=object)
    assert json_encoded.encoded_text(s) is None  # pd.factorize makes 1, 1.0 and True one value
    codes, encoded = datasetjson._Encoder(s, "string").piece()
    assert [encoded[c] for c in codes] == [b"1", b"1.0", b"true", b'"1"']


def test_columns_with_few_combinations_merge_into_one_piece() -> None:
    n = 4000
    rng = np.random.default_rng(7)
    test = rng.integers(0, 5, n)
    df = pd.DataFrame({
        "STUDYID": ["S1"] * n,                                     # a constant: merged for free
        "TESTCD": np.array(["ALT", "AST", "HGB", "WBC", "PLAT"], dtype=object)[test],
        "TEST": np.array(["Alanine", "Aspartate", "Hemoglobin", "Leukocytes", "Platelets"], dtype=object)[test],
        "SEQ": pd.array(np.arange(n), dtype="Int64"),              # a value a row: never merged
        "RESULT": rng.integers(0, 3000, n).astype(np.float64),     # 3000 values in 4000 rows: too many to merge
    })
    pieces = [e.piece() for e in _encoders(df, ["string", "string", "string", "integer", "float"])]
    merged = json_encoded.merged_pieces(pieces, n)
    assert [len(encoded) for _, encoded in merged] == [5, n, len(np.unique(df["RESULT"]))]
    assert merged[0][1].tolist()[0].count(b",") == 2  # "S1","<TESTCD>","<TEST>"


@pytest.mark.parametrize("ndjson", [False, True])
def test_written_file_is_orjsons_document(tmp_path: Path, ndjson: bool) -> None:
    """The whole file: its header (read back) and the reference rows, as orjson writes them."""
    df = pd.DataFrame({"STUDYID": ["S1"] * 3, "USUBJID": ["S1-1", 'S1-"2"', "S1-3"],
                       "LBSEQ": pd.array([1, None, 3], dtype="Int64"), "LBSTRESN": [0.5, np.nan, -0.0],
                       "LBORRES": ["0.5", "", "],["]})
    path = tmp_path / ("lb.ndjson" if ndjson else "lb.json")
    write_dataset_json(df, "LB", path, ndjson=ndjson, created="2026-01-01T00:00:00")
    raw = path.read_bytes()
    types = ["string", "string", "integer", "float", "string"]
    rows = reference_rows(datasetjson._conformed("LB", df), types)
    if ndjson:
        header = orjson.loads(raw.split(b"\n", 1)[0])
        assert raw == b"".join(orjson.dumps(x) + b"\n" for x in [header, *rows])
    else:
        header = orjson.loads(raw)
        assert [c["dataType"] for c in header["columns"]] == types
        assert raw == orjson.dumps({**header, "rows": rows})
        assert header["rows"][1] == ["S1", 'S1-"2"', None, None, ""]  # NaN and NA as null


def test_a_dataset_without_columns_has_an_empty_row_per_record(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    datasetjson.write_conformed(pd.DataFrame(index=pd.RangeIndex(2)), "XX", path, ndjson=True,
                                created="2026-01-01T00:00:00")
    lines = path.read_bytes().split(b"\n")
    assert lines[1:] == [b"[]", b"[]", b""]
    assert orjson.loads(lines[0])["records"] == 2
