"""records/csv_text.py: each record of a records CSV on the line it starts on, whatever blank lines, line ends
and quoted multi-line values come before it; a value that spans lines found with both its lines; files the
parser refuses named by line."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_interop.errors import InputError
from msc_interop.records.csv_text import read_csv_text

_BREAK = re.compile(r"\r\n|\r|\n")
CELL = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\tμ')), max_size=6)
RECORD = st.lists(CELL, min_size=3, max_size=3)
BLANKS = st.lists(st.sampled_from(["", "  ", "\t", " \t "]), max_size=2)


def _quoted(cell: str) -> str:
    """(Python's csv writer leaves a lone \r unquoted when the line terminator is \n: not valid CSV.)"""
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


def _read(text: str):
    return read_csv_text(text.encode("utf-8"), lambda: text, "labs.csv")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(BLANKS, RECORD), min_size=1, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_every_record_is_placed_on_its_line(records, end):
    """Written as CSV quotes (RFC 4180: a value holding a comma, quote or line end in quotes); the line of
    each record counted from the text before it; records holding a line break come back as spans (first and
    last line), the others as rows."""
    text, starts, breaks = f"a,b,c{end}", [], []
    for blanks, cells in records:
        text += "".join(b + end for b in blanks)
        starts.append(len(_BREAK.findall(text)) + 1)
        breaks.append(sum(len(_BREAK.findall(c)) for c in cells))
        text += ",".join(_quoted(c) for c in cells) + end
    table = _read(text)
    assert table.rows.tolist() == [s for s, b in zip(starts, breaks, strict=True) if b == 0]
    assert [(s.first, s.last) for s in table.spans] == [(s, s + b) for s, b in zip(starts, breaks, strict=True) if b]
    kept = [cells for (_, cells), b in zip(records, breaks, strict=True) if b == 0]
    assert table.frame.values.tolist() == kept


def test_stray_quotes_make_a_span_named_by_its_lines_and_column():
    lines = ["subject_id,test,lab_name"] + [f"0{i},WBC,Lab {i}" for i in range(1, 9)]
    lines[3] = '03,WBC,"Lab 3'
    lines[5] = '05,WBC,Lab 5"'
    table = _read("\n".join(lines) + "\n")
    [span] = table.spans
    assert (span.first, span.last, span.column) == (4, 6, "lab_name")
    assert [n for n, _ in span.lines] == [4, 5, 6]
    assert span.lines[1][1] == "04,WBC,Lab 4"
    assert table.rows.tolist() == [2, 3, 7, 8, 9]


def test_lone_cr_line_ends_and_a_bom_keep_the_count():
    text = "\ufeffa,b\r1,2\r\r3,4\r"
    table = read_csv_text(text.encode("utf-8"), lambda: text.removeprefix("\ufeff"), "labs.csv")
    assert table.rows.tolist() == [2, 4]


def test_control_characters_are_seen_in_the_bytes():
    assert not _read("a,b\n1,2\r\n3,μ\n").control
    assert _read("a,b\n1,x\ty\n").control
    assert _read("a,b\n1,x\x00y\n").control
    assert _read("a,b\n1,x\u0085y\n").control  # C1 NEL


def test_quote_never_closed_names_its_line():
    lines = ["a,b", "1,2", "", "3,4", '5,"six', "7,8"]
    with pytest.raises(InputError, match=r"labs\.csv line 5: a quoted value starts on this line and is never "
                                         r"closed .* lines 5-6"):
        _read("\n".join(lines) + "\n")


@pytest.mark.parametrize(("lines", "line"), [
    (["a,b", "1,2,3", "4,5"], 2),  # pandas would take the first column as an index and shift every value
    (["a,b", "1,2", "", "3,4,5"], 4),  # after a blank line
    (["a,b", '1,"x', 'y"', "3,4,5"], 4),  # after a value that spans lines (pandas says line 3)
])
def test_a_row_with_more_values_than_the_header_names_its_line(lines, line):
    with pytest.raises(InputError, match=rf"labs\.csv line {line}: 3 values but the header has 2 columns"):
        _read("\n".join(lines) + "\n")


@pytest.mark.parametrize("cell", ['"1"', "1\x01"])  # a quote or a control character: read by pandas' C parser
def test_lone_cr_line_ends_around_a_blank_line_keep_each_cell_in_its_column(cell):
    """pandas' C parser, given 'a,b\\r\\r,1\\r' (classic Mac OS line ends, a blank line, an empty first
    cell), read the record as ['1', '']: the file is read with its lone \\r written as \\n (the same lines)."""
    text = f"a,b\r\r,{cell}\r\r2,3\r"
    table = _read(text)
    assert table.frame.values.tolist() == [["", cell.strip('"')], ["2", "3"]]
    assert table.rows.tolist() == [3, 5]


@pytest.mark.parametrize("text, rows", [
    ("a,b\n1,2\n\n3,4\n", [2, 4]),  # a blank line inside: Arrow's count is short, the lines are counted again
    ("a,b\n1,2\n3,4\n\n", [2, 3]),  # a blank line at the end
    ("a,b\n1,2\n \n3,4\n", [2, 4]),  # a line of spaces (Arrow refuses it; pandas skips it)
    ("a,b\n1,2\n3,4", [2, 3]),  # no line end after the last record
])
def test_plain_files_with_blank_lines_keep_each_record_on_its_line(text, rows):
    table = _read(text)
    assert table.rows.tolist() == rows and table.frame.values.tolist() == [["1", "2"], ["3", "4"]]
    if " \n" not in text:  # (blank lines: read by Arrow on _Lines' count, not by pandas: text as object)
        assert all(table.frame[c].dtype == object for c in table.frame.columns)


@pytest.mark.parametrize("raw", [
    b"a,b\n1,x\n2,y\n",  # plain
    b"a,b\n1,x\n\n2,y\n",  # a blank line: Arrow's count is short
    b"a,b\n1,x\x07\n2,y\n",  # a control character: not read by Arrow
    b"a,b\n1,x\n2,y",  # no line end at the end
    b"a\n1\n2\n",  # one column
    b'a,b\n1,"x"\n',  # a quote
    b"a,b\n",  # a header only
])
def test_parse_plain_file_with_threads_is_the_one_thread_parse(raw):
    """The parse made before a load forks (Arrow's threads, the control and line scans beside it) decides and
    parses every file as read_csv_text's own first way does."""
    from msc_interop.records.csv_text import parse_plain_file

    one, short_one = parse_plain_file(raw)
    many, short_many = parse_plain_file(raw, threads=True)
    assert short_one == short_many
    assert (one is None) == (many is None)
    if one is not None:
        assert one.lines.tolist() == many.lines.tolist()
        assert list(one.parsed) == list(many.parsed)
        for name in one.parsed:
            assert one.parsed[name][0].tolist() == many.parsed[name][0].tolist()
            assert one.parsed[name][1].tolist() == many.parsed[name][1].tolist()
