"""records/csv_arrow.py: a plain records CSV read by Arrow gives the table pandas' C parser gives (same cells,
same line of each record), each column's codes known to `distinct` as pd.factorize numbers them; any file that
is not plain is left to pandas (None), so its errors and spans stay those of csv_text.py (a file holding a
control character is left to pandas by the caller: tests/records/test_csv_text.py)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_interop.distinct import known_codes, shared_columns
from msc_interop.records.csv_arrow import read_plain_csv
from msc_interop.records.csv_text import read_csv_text

# no quote, no line end, no comma inside a cell: what a plain file holds (spaces, tabs, empty cells, non-ASCII,
# text that looks like numbers, NA words pandas would read as missing by default)
CELL = st.one_of(st.text(alphabet=st.sampled_from(list("ab 0.1\tμ-")), max_size=5),
                 st.sampled_from(["01", "1", "1.0", "NA", "null", "nan", "", " ", "N/A", "#N/A", "-0"]))


def _pandas(raw: bytes) -> pd.DataFrame:
    """pandas' reading in csv_text.read_csv_text (the cells are checked against what was written)."""
    return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")


def _file(header: list[str], rows: list[list[str]], end: str, blank_lines: bool, bom: bool) -> bytes:
    body = [",".join(header)] + [",".join(r) for r in rows]
    if blank_lines:
        body = [x for line in body for x in (line, "")]
    return (b"\xef\xbb\xbf" if bom else b"") + (end.join(body) + end).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(
           st.lists(st.text(alphabet="abc_ ", min_size=1, max_size=4), min_size=n, max_size=n, unique=True)
           .filter(lambda h: all(x.strip() for x in h)),
           st.lists(st.lists(CELL, min_size=n, max_size=n), min_size=1, max_size=8))),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans())
def test_a_plain_file_reads_as_pandas_reads_it(table, end, blank_lines, bom):
    header, rows = table
    raw = _file(header, rows, end, blank_lines, bom)
    with shared_columns():
        got = read_csv_text(raw, lambda: raw.decode("utf-8-sig"), "labs.csv")
        reference = _pandas(raw)
        if len(header) == 1 and any(not r[0].strip(" \t") for r in rows):
            return  # a one-column row of blanks is a blank line to pandas: not plain, pandas read it (below)
        read = read_plain_csv(raw.removeprefix(b"\xef\xbb\xbf"), header, len(rows))
        assert read is not None, "a plain file was left to pandas"
        frame, kept = read
        assert kept is None
        assert frame.columns.tolist() == reference.columns.tolist() == header
        assert frame.values.tolist() == rows
        assert got.frame.values.tolist() == rows  # (a tab is a control character: such a file is read by pandas)
        if end != "\r" or not blank_lines:  # (pandas' C parser shifts cells after a blank line ended by a lone
            assert reference.astype(object).values.tolist() == rows  # \r: 'a,b\r\r,1\r' gives ['1', ''])
        expected_lines = [2 + i * (2 if blank_lines else 1) + (1 if blank_lines else 0) for i in range(len(rows))]
        assert got.rows.tolist() == expected_lines
        for name in header:  # the codes handed to distinct are pd.factorize's (order of first appearance)
            codes, uniques = known_codes(frame[name])
            ref_codes, ref_uniques = pd.factorize(np.array([r[header.index(name)] for r in rows], dtype=object),
                                                  use_na_sentinel=False)
            assert np.array_equal(codes, ref_codes)
            assert list(uniques) == list(ref_uniques)


@pytest.mark.parametrize(("raw", "why"), [
    (b'a,b\n1,"x, y"\n', "a quote: quoting edges differ between the parsers"),
    (b"a,\n1,2\n", "an unnamed column (pandas names it 'Unnamed: 1')"),
    (b"a,a\n1,2\n", "a column named twice (pandas renames the second 'a.1'; the reader refuses it first)"),
    (b"a, \n1,2\n", "a blank column name"),
    ("\ufeffa,b\n1,2\n".encode(), "a second BOM (pandas' utf-8-sig strips two, Arrow one)"),
    (b"a,b\n1\n2,3\n", "a short row"),
    (b"a,b\n1,2,3\n", "a long row"),
    (b"a,b\n", "no records"),
])
def test_files_that_are_not_plain_are_left_to_pandas(raw, why):
    header = raw.split(b"\n")[0].decode().split(",")  # (as the caller splits it, after the first BOM)
    records = sum(1 for line in raw.split(b"\n")[1:] if line.strip())
    assert read_plain_csv(raw, header, records) is None, why


def test_a_record_count_other_than_the_lines_is_left_to_pandas():
    """The caller's count of non-blank lines is the check that both parsers saw the same records: a line of
    blanks is a record to Arrow in a one-column file, a blank line to pandas."""
    raw = b"a\n1\n  \n2\n"
    assert read_plain_csv(raw, ["a"], 2) is None
    table = read_csv_text(raw, raw.decode, "labs.csv")
    assert table.frame["a"].tolist() == ["1", "2"] and table.rows.tolist() == [2, 4]


def test_a_line_longer_than_arrows_block_is_left_to_pandas(monkeypatch):
    from msc_interop.records import csv_arrow

    monkeypatch.setattr(csv_arrow, "_BLOCK", 64)
    raw = b"a,b\n1," + b"x" * 200 + b"\n"
    assert read_plain_csv(raw, ["a", "b"], 1) is None
    assert read_csv_text(raw, raw.decode, "labs.csv").frame["b"].tolist() == ["x" * 200]


def test_blocks_with_dictionaries_of_their_own_make_one_column(monkeypatch):
    """Arrow parses a block at a time, each block's column with a dictionary of its own: the values and codes
    are those of the whole column (a value first seen in a later block numbered after the earlier ones)."""
    from msc_interop.records import csv_arrow

    monkeypatch.setattr(csv_arrow, "_BLOCK", 48)
    rows = [[f"S{i % 7}", ["WBC", "RBC", "HGB", "PLT"][i % 4 if i < 30 else 3 - i % 4], str(i % 5)] for i in range(60)]
    raw = ("subject,test,value\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
    with shared_columns():
        frame, kept = read_plain_csv(raw, ["subject", "test", "value"], len(rows))
        assert kept is None and frame.values.tolist() == rows
        for j, name in enumerate(frame.columns):
            codes, uniques = known_codes(frame[name])
            ref_codes, ref_uniques = pd.factorize(np.array([r[j] for r in rows], dtype=object))
            assert np.array_equal(codes, ref_codes) and list(uniques) == list(ref_uniques)


def test_wanted_records_only_their_codes_in_order(monkeypatch):
    """`wanted` (the rows of some subjects: records/subject_share.py) keeps those records, in file order, and each
    column's known codes are those of the kept rows (numbered in their order of appearance, values that only
    the other rows hold gone), whatever blocks Arrow parsed."""
    from msc_interop.records import csv_arrow

    monkeypatch.setattr(csv_arrow, "_BLOCK", 48)
    rows = [[f"S{i % 7}", ["WBC", "RBC", "HGB", "PLT"][i % 4 if i < 30 else 3 - i % 4], str(i % 5)] for i in range(60)]
    raw = ("subject,test,value\n" + "".join(",".join(r) + "\n" for r in rows)).encode()

    def wanted(columns):
        codes, distinct = columns["subject"]
        return np.isin(distinct[codes], ["S2", "S5"])

    with shared_columns():
        frame, kept = read_plain_csv(raw, ["subject", "test", "value"], len(rows), wanted)
        expected = [r for r in rows if r[0] in ("S2", "S5")]
        assert frame.values.tolist() == expected
        assert kept.tolist() == [i for i, r in enumerate(rows) if r[0] in ("S2", "S5")]
        assert frame.index.equals(pd.RangeIndex(len(expected)))
        for j, name in enumerate(frame.columns):
            codes, uniques = known_codes(frame[name])
            ref_codes, ref_uniques = pd.factorize(np.array([r[j] for r in expected], dtype=object))
            assert np.array_equal(codes, ref_codes) and list(uniques) == list(ref_uniques)


def test_a_plain_file_that_is_not_utf8_is_named_by_line(tmp_path):
    """Arrow checks a plain file's UTF-8 itself (the reader does not decode it first): a byte that is not UTF-8
    leaves the file to pandas' path, whose decoding names the line and byte."""
    from msc_interop.errors import InputError

    raw = b"a,b\n1,caf\xc3\xa9\n2,caf\xe9\n"
    assert read_plain_csv(raw, ["a", "b"], 2) is None
    called = []

    def decode() -> str:
        called.append(True)
        raise InputError("labs.csv: not UTF-8 text (line 3, byte 0xe9)")

    with pytest.raises(InputError, match="line 3"):
        read_csv_text(raw, decode, "labs.csv")
    good = b"a,b\n1,caf\xc3\xa9\n"
    assert read_csv_text(good, decode, "labs.csv").frame["b"].tolist() == ["caf\u00e9"] and len(called) == 1


def test_two_boms_name_the_first_column_as_pandas_does() -> None:
    raw = b"\xef\xbb\xbf\xef\xbb\xbfsubject_id,visit\nS1,V1\n"
    table = read_csv_text(raw, lambda: raw.decode("utf-8-sig"), "labs.csv")
    assert table.frame.columns.tolist() == ["subject_id", "visit"] and table.frame.values.tolist() == [["S1", "V1"]]


@pytest.mark.parametrize("first", [1, 17, 40, 60])
def test_wanted_first_records_keep_the_first_values(monkeypatch, first):
    """`wanted` keeping the first records only (a share of the subjects of a file sorted by them): their codes and
    values as pd.factorize numbers the kept rows, the values only later rows hold gone."""
    from msc_interop.records import csv_arrow

    monkeypatch.setattr(csv_arrow, "_BLOCK", 48)
    rows = [[f"S{i // 6}", ["WBC", "RBC", "HGB", "PLT"][i % 4 if i < 30 else 3 - i % 4], str(i % 5)] for i in range(60)]
    raw = ("subject,test,value\n" + "".join(",".join(r) + "\n" for r in rows)).encode()
    with shared_columns():
        frame, kept = read_plain_csv(raw, ["subject", "test", "value"], len(rows),
                                     lambda columns: np.arange(len(rows)) < first)
        assert kept.tolist() == list(range(first)) and frame.values.tolist() == rows[:first]
        for j, name in enumerate(frame.columns):
            codes, uniques = known_codes(frame[name])
            ref_codes, ref_uniques = pd.factorize(np.array([r[j] for r in rows[:first]], dtype=object))
            assert np.array_equal(codes, ref_codes) and list(uniques) == list(ref_uniques)
