"""The byte layout of a SAS XPORT v5 file, checked before pyreadstat reads its rows, so that a cut or joined
file is refused instead of read as a shorter (or garbled) dataset.

SAS TS-140 (Record Layout of a SAS Version 5 or 6 Data Set in SAS Transport Format): every record is 80 bytes,
the last one of a section padded with ASCII blanks. The member header gives the size of a NAMESTR (140; 136 on
VAX/VMS), the NAMESTR header the number of variables, each NAMESTR its variable's length in the observation.
The observations follow the OBS header back to back, each the sum of those lengths, then blanks up to the
next 80-byte boundary. There is no row count anywhere. What the bytes do tell, and `check_xpt_layout` refuses:

- a size that is not a whole number of 80-byte records: the end is missing (always, even when every row is
  whole and only the padding is cut);
- a file that ends before its OBS header: cut inside the header;
- data that end in a partial observation which is not blank padding (a non-blank byte, or 80 bytes or more):
  the file ends inside row N + 1;
- a second MEMBER header on a record boundary: more than one dataset in the file, which pyreadstat would
  read as further rows of the first.

What the bytes cannot tell: a cut on an 80-byte boundary that is also an observation boundary (every
lcm(80, L) bytes of data for observations of L bytes: for an LB of 257 bytes a row, every 80 rows), and a
cut whose partial observation is shorter than 80 bytes and all blank (an SDTM row starts with STUDYID, so
it is never blank). Such a file reads as a whole, shorter dataset; only a row count kept elsewhere would
show it (XPT has none; Dataset-JSON's `records` is one, checked by its reader).

The V8/V9 layout (LIBV8 header) is checked for its 80-byte records only; msc-interop writes V5, as the FDA asks.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

from msc_interop.errors import InputError

RECORD = 80
V5_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"  # SAS TS-140: the first record of a v5 file
_V8_LIBRARY = b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!"
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_NAMESTR = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
_OBS = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"
_ANY_MEMBER = b"HEADER RECORD*******MEMB"  # MEMBER (V5) or MEMBV8
# Offsets (TS-140): library header 3 records, member header at record 3 (NAMESTR size in bytes 74-77),
# descriptor header and its 2 records, NAMESTR header at record 7 (number of variables in bytes 54-57).
_MEMBER_AT, _NAMESTR_AT, _NAMESTRS_AT = 3 * RECORD, 7 * RECORD, 8 * RECORD
_NLNG = slice(4, 6)  # a NAMESTR's variable length: big-endian short


def check_xpt_layout(path: Path) -> None:
    """Refuse (InputError naming the file, the rows found and why) an XPT file that is cut or holds more than
    one dataset; return quietly when the layout is whole, as far as its bytes can tell (module docstring)."""
    path = Path(path)
    size = os.path.getsize(path)
    if size == 0:
        raise InputError(f"{path.name}: empty file; expected a SAS XPORT (XPT) dataset")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as raw:
        head = raw[:RECORD]
        if size < len(V5_LIBRARY) and (V5_LIBRARY.startswith(head) or _V8_LIBRARY.startswith(head)):
            raise _cut_in_header(path, size, "the library header")
        if head.startswith(_V8_LIBRARY):
            if size % RECORD:
                raise InputError(f"{path.name}: {_not_whole(size)}: truncated? Get the complete file")
            return
        if not head.startswith(V5_LIBRARY):
            raise InputError(f"{path.name}: not a SAS XPORT (XPT) file: it does not begin with the XPORT library "
                             "header record (SAS TS-140)")
        data_at, row_bytes = _data_start(path, raw, size)
        data_end = _second_member(path, raw, data_at)
        _check_data(path, raw, size, data_at, data_end, row_bytes)


def _not_whole(size: int) -> str:
    return (f"the file is {size:,} bytes, not a whole number of {RECORD}-byte records as every SAS XPORT file is "
            f"({size % RECORD} bytes into its last record)")


def _cut_in_header(path: Path, size: int, what: str) -> InputError:
    return InputError(f"{path.name}: the file ends inside its header ({what}) after {size:,} bytes, before any "
                      "row: truncated? Get the complete file")


def _data_start(path: Path, raw: mmap.mmap, size: int) -> tuple[int, int]:
    """(offset of the first observation, bytes per observation) from the member and NAMESTR headers."""
    if size < _NAMESTRS_AT:
        raise _cut_in_header(path, size, "the member header")
    member, names = raw[_MEMBER_AT:_MEMBER_AT + RECORD], raw[_NAMESTR_AT:_NAMESTR_AT + RECORD]
    if not member.startswith(_MEMBER) or not names.startswith(_NAMESTR):
        raise InputError(f"{path.name}: not a SAS XPORT v5 file: no member / NAMESTR header record where "
                         "SAS TS-140 puts them (records 4 and 8)")
    try:
        namestr_size, n_vars = int(member[74:78]), int(names[54:58])
    except ValueError:
        raise InputError(f"{path.name}: the member or NAMESTR header record does not hold the NAMESTR size and "
                         "the number of variables as digits (SAS TS-140)") from None
    if namestr_size not in (136, 140):
        raise InputError(f"{path.name}: the member header gives a NAMESTR size of {namestr_size}; SAS TS-140 "
                         "allows 140 (136 on VAX/VMS)")
    block = n_vars * namestr_size
    obs_at = _NAMESTRS_AT + -(-block // RECORD) * RECORD
    if size < obs_at + RECORD:
        raise _cut_in_header(path, size, f"the descriptions of its {n_vars} variables")
    lengths = np.frombuffer(raw[_NAMESTRS_AT:_NAMESTRS_AT + block], dtype=np.uint8)
    row_bytes = int(lengths.reshape(n_vars, namestr_size)[:, _NLNG].copy().view(">i2").sum()) if n_vars else 0
    if not raw[obs_at:obs_at + RECORD].startswith(_OBS):
        raise InputError(f"{path.name}: no OBS header record after the {n_vars} variable descriptions (at byte "
                         f"{obs_at:,}, SAS TS-140): not a SAS XPORT v5 file, or a damaged one")
    return obs_at + RECORD, row_bytes


def _second_member(path: Path, raw: mmap.mmap, data_at: int) -> int:
    """The end of the first member's data: the file's end; a second member on a record boundary is refused."""
    at = _find(raw, _ANY_MEMBER, data_at)
    while at >= 0 and (at - data_at) % RECORD:  # the text inside a value, not a header record
        at = _find(raw, _ANY_MEMBER, at + 1)
    if at < 0:
        return len(raw)
    second = raw[at + 2 * RECORD + 8:at + 2 * RECORD + 16].decode("ascii", "replace").strip() or "?"
    raise InputError(f"{path.name}: holds more than one dataset (a second member, {second}, starts at byte "
                     f"{at:,}); msc-interop reads one dataset per XPT file, as the FDA asks: split the file")


_WINDOW = 64 << 20


def _find(raw: mmap.mmap, what: bytes, start: int) -> int:
    """raw.find(what, start), a window at a time, each window's pages given back once searched: a scan of a
    multi-GB file would otherwise keep every page of it in this process's resident memory until the map
    closes (the pages stay in the page cache, shared)."""
    size = len(raw)
    while start < size:
        end = min(size, start + _WINDOW)
        at = raw.find(what, start, min(size, end + len(what) - 1))
        if at >= 0:
            return at
        release(raw, end)
        start = end
    return -1


def release(raw: mmap.mmap, upto: int) -> None:
    """Give back the mapped pages before `upto` (read-only file map: they are read again from the page cache
    if touched); nothing where the platform cannot."""
    page = mmap.PAGESIZE
    length = upto // page * page
    if length > 0 and hasattr(raw, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        raw.madvise(mmap.MADV_DONTNEED, 0, length)


def _check_data(path: Path, raw: mmap.mmap, size: int, data_at: int, data_end: int, row_bytes: int) -> None:
    data = data_end - data_at
    whole, rest = divmod(data, row_bytes) if row_bytes else (0, 0)
    partial_row = rest >= RECORD or bool(raw[data_end - rest:data_end].strip(b" "))
    rows = f"{whole:,} whole row{'' if whole == 1 else 's'} of {row_bytes} bytes"
    if partial_row:
        raise InputError(f"{path.name}: the file ends inside row {whole + 1:,} ({rows}, then {rest} "
                         f"byte{'' if rest == 1 else 's'} of the next): truncated? Get the complete file")
    if size % RECORD:
        raise InputError(f"{path.name}: {_not_whole(size)}: its end is missing after {rows}: truncated? Get the "
                         "complete file")
