"""Open XML from outside safely: no DTD, no entities, no network, bounded size.

An ODM file never needs a DOCTYPE, so any file that declares one is refused before its body is read: that
stops entity expansion (billion laughs) and external entities (XXE) without relying on parser defaults.
libxml2's own limits stay on (`huge_tree=False`: text nodes up to 10 MB, nesting depth 256).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from msc_interop.errors import InputError

MAX_BYTES = 4 * 1024**3  # 4 GiB: far above any real EDC export, low enough to refuse a runaway file early

PARSER_OPTIONS: dict[str, Any] = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                      dtd_validation=False, remove_comments=True, remove_pis=True)


def check_size(path: Path, max_bytes: int | None = None) -> None:
    """Refuse files larger than `max_bytes` (default: MAX_BYTES, read at call time so it can be raised) and
    anything that is not a regular file."""
    if max_bytes is None:
        max_bytes = MAX_BYTES
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{path.name}: {size:,} bytes is more than the limit of {max_bytes:,} bytes for an XML "
                         "input; split the export or raise the limit (msc_interop.odm.safe_xml.MAX_BYTES)")
    if size == 0:
        raise InputError(f"{path.name}: the file is empty")


def root_of(path: Path) -> etree._Element:
    """The root element (start tag only; the body is not read). Refuses a DOCTYPE or a file that is not XML."""
    root = next(first_elements(path, 1), None)
    if root is None:
        raise InputError(f"{path.name}: no XML element found")
    return root


def first_elements(path: Path, limit: int) -> Iterator[etree._Element]:
    """The first `limit` elements by start tag (attributes only, children not yet read): enough to tell what
    a file is without reading it. The first is the root; a DOCTYPE is refused before anything is yielded."""
    if declares_doctype(path):  # before libxml2 sees it: newer libxml2 fails on some entities at the root tag
        raise _doctype_refused(path)
    etree.clear_error_log()  # xml_error reads this parse's first error from lxml's (per-thread) error log
    events = etree.iterparse(str(path), events=("start",), **PARSER_OPTIONS)
    try:
        for n, (_, elem) in enumerate(events):
            if n == 0:
                docinfo = elem.getroottree().docinfo
                if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
                    raise _doctype_refused(path)
            yield elem
            if n + 1 >= limit:
                return
    except etree.XMLSyntaxError as exc:
        raise xml_error(path, exc) from None


def _doctype_refused(path: Path) -> InputError:
    return InputError(f"{path.name}: the file declares a DOCTYPE; ODM needs none and a DOCTYPE can define entities "
                      "(entity expansion, external files), so the file is refused. Export it again without a DOCTYPE.")


_PROLOG_SKIP = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)


def declares_doctype(path: Path, head_bytes: int = 1 << 16) -> bool:
    """True when the prolog (before the root element) holds a <!DOCTYPE: read from the file's opening bytes,
    decoded by its byte-order mark (UTF-8, UTF-16, UTF-32; markup is ASCII in any other encoding)."""
    with open(path, "rb") as fh:
        head = fh.read(head_bytes)
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                       (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
                       (codecs.BOM_UTF8, "utf-8"), (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be")):
        if head.startswith(bom):
            text = head[len(bom) if bom.startswith((b"\xff", b"\xfe", b"\xef", b"\x00\x00")) else 0:]
            text = text.decode(codec, errors="replace")
            break
    else:
        text = head.decode("latin-1")
    pos = 0
    while (m := _PROLOG_SKIP.match(text, pos)) is not None and m.end() > pos:
        pos = m.end()
    return text.startswith("<!DOCTYPE", pos)


def iter_elements(path: Path, tags: list[str]) -> Iterator[etree._Element]:
    """Elements with one of `tags` (Clark notation), each when its end tag is read: the caller clears them."""
    etree.clear_error_log()  # see root_of
    events = etree.iterparse(str(path), events=("end",), tag=tags, **PARSER_OPTIONS)
    try:
        for _, elem in events:
            yield elem
    except etree.XMLSyntaxError as exc:
        raise xml_error(path, exc) from None


def xml_error(path: Path, exc: etree.XMLSyntaxError) -> InputError:
    """Name the file, line and column of a well-formedness error.

    The first error of the parse, from the error log: iterparse can raise a later, misleading one (an undefined
    entity such as `&nbsp;` is raised as "Start tag expected" at line 1, column 1)."""
    line, col = exc.position if getattr(exc, "position", None) else (exc.lineno, 0)
    msg = str(exc.msg if hasattr(exc, "msg") else exc)
    first = next(iter(exc.error_log.filter_from_errors()), None) if exc.error_log else None
    if first is not None and first.line > 0:
        line, col, msg = first.line, first.column, first.message
    if "Detected an entity reference loop" in msg or ("entity" in msg.lower() and "amplification" in msg.lower()):
        msg += " (entity expansion refused)"
    return InputError(f"{path.name}: not well-formed XML at line {line}, column {col}: {msg}")


def release(elem: etree._Element) -> None:
    """Free a processed element and the siblings before it, so memory stays flat over a long file."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]
