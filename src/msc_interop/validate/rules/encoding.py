"""Findings on the text encoding of XPT/CSV files (raised by the engine as it reads them, scope "io").

sdtm/text_encoding.py decodes each file (UTF-8, else Windows-1252, or --encoding) and logs what it did; here
each file read in another encoding than UTF-8 becomes a notice (MSC-IO-004) and each value that is text in no
candidate encoding an error at its file, row and variable (MSC-IO-003); a value valid as UTF-8 in a file read as
Windows-1252 (mixed encodings) a warning at its variable's first such record (MSC-IO-005).
"""

from __future__ import annotations

from pathlib import Path

from msc_interop.sdtm.text_encoding import DecodeLog
from msc_interop.validate.model import Finding
from msc_interop.validate.registry import get_rule


def decode_findings(log: DecodeLog) -> list[Finding]:
    """The findings of what one read decoded."""
    out: list[Finding] = []
    notice = get_rule("MSC-IO-004")
    for f in log.files:
        if f.encoding == "utf-8":
            continue
        how = "--encoding" if f.given else "detected: not valid UTF-8"
        out.append(notice.finding(file=f.file, variable=f.variable, row=f.row, value=f.example,
                                  file_name=Path(f.file).name, encoding=f.name, how=how, count=f.n_values))
    error = get_rule("MSC-IO-003")
    for u in log.undecodable:
        out.append(error.finding(file=u.file, row=u.row, variable=u.variable, value=u.value,
                                 file_name=Path(u.file).name, where=f"row {u.row}" if u.row else "header",
                                 tried=u.tried))
    mixed = get_rule("MSC-IO-005")
    for d in log.doubtful:
        out.append(mixed.finding(file=d.file, row=d.row, variable=d.variable, value=d.value,
                                 file_name=Path(d.file).name, dataset=Path(d.file).stem.upper(),
                                 where=f"row {d.row}" if d.row else "label", as_utf8=d.as_utf8, count=d.count))
    return out
