"""MSC-REC-002: an ODM export checked against the ODM 1.3.2 XML Schema, streaming.

lxml reports schema errors of a streamed parse only when the parse ends, without lines, so the export is not
validated as one document: each top-level part (Study, AdminData, ReferenceData, every SubjectData,
Association) is validated as its own element when its end tag is read and then freed, and the ODM and
ClinicalData start tags are validated as empty copies (their attributes). Errors keep their source lines and
memory stays flat in the size of the export. Not covered by this: the order of the ODM root's children."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from msc_interop.errors import MscInteropError
from msc_interop.odm.metadata import q
from msc_interop.odm.safe_xml import PARSER_OPTIONS, release, root_of
from msc_interop.validate.model import Finding
from msc_interop.validate.registry import get_rule
from msc_interop.validate.schemas import odm_xsd

MAX_ERRORS = 20
_PARTS = tuple(q(t) for t in ("Study", "AdminData", "ReferenceData", "SubjectData", "Association"))
_SHELLS = (q("ODM"), q("ClinicalData"))  # validated by their attributes only


def odm_schema_findings(path: Path) -> list[Finding]:
    rule = get_rule("MSC-REC-002")
    try:
        root_of(path)  # refuses a DOCTYPE before any schema work
    except MscInteropError:
        return []  # the reader reports it (MSC-IO-001)
    xsd = odm_xsd()
    errors: list[tuple[int, str, str]] = []
    try:
        for event, elem in etree.iterparse(str(path), events=("start", "end"), tag=[*_PARTS, *_SHELLS],
                                           **PARSER_OPTIONS):
            if event == "start" and elem.tag in _SHELLS:
                part = etree.Element(elem.tag, dict(elem.attrib), nsmap=elem.nsmap)
                part.sourceline = elem.sourceline
            elif event == "end" and elem.tag in _PARTS:
                part = elem
            else:
                continue
            if not xsd.validate(part):
                errors += [(e.line or part.sourceline or 0, e.path or "", e.message) for e in xsd.error_log]
            if part is elem:
                release(elem)
            if len(errors) > MAX_ERRORS:
                break
    except etree.XMLSyntaxError:
        return []  # not well-formed: the reader reports it with line and column (MSC-IO-001)
    found = [rule.finding(file=str(path), dataset="ODM", row=line, variable=where, error=message)
             for line, where, message in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        found.append(rule.finding(file=str(path), dataset="ODM", error="... and more schema errors (first "
                                  f"{MAX_ERRORS} shown)"))
    return found
