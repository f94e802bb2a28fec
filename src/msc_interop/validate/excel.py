"""The validation report as an Excel workbook laid out the way Pinnacle 21 users read theirs: Dataset Summary
(records, errors, warnings, notices per dataset), Issue Summary (per dataset and rule, with the P21 id), Details
(one row per finding) and Rules (every rule with its references).

The bytes are deterministic: openpyxl stamps the save time into docProps/core.xml and the zip entries, so the
saved archive is rewritten with fixed times (the same report gives the same file, as every other output does).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pyreadstat
from openpyxl import Workbook
from openpyxl.styles import Font

from msc_interop.atomic import write_bytes_atomic
from msc_interop.validate.model import Finding
from msc_interop.validate.registry import catalogue, list_rules

# the report is taken by its attributes (findings, sources): validate.report imports this module when asked for
# an .xlsx, so importing it back would make a cycle
Report = Any

EXCEL_MAX_ROWS = 1_000_000  # Excel holds 1,048,576 rows a sheet; the JSON and CSV reports hold every finding
_FIXED_TIME = "2000-01-01T00:00:00Z"
_SDTM_FILES = (".xpt", ".json", ".ndjson", ".csv")


def _records(path: Path) -> int | None:
    """Number of records of an SDTM file, read from its header where the format has one (None: unknown)."""
    try:
        suffix = path.suffix.lower()
        if suffix == ".xpt":
            _, meta = pyreadstat.read_xport(str(path), metadataonly=True)  # XPT v5 states no row count:
            df, _ = pyreadstat.read_xport(str(path), usecols=meta.column_names[:1])  # read one column
            return len(df)
        if suffix == ".json":
            doc = orjson.loads(path.read_bytes())
            return int(doc["records"]) if isinstance(doc, dict) and "records" in doc else None
        if suffix in (".ndjson", ".csv"):
            with path.open("rb") as fh:
                return max(sum(1 for line in fh if line.strip()) - 1, 0)
    except Exception:  # a file validate could not read is reported there (MSC-IO-001); here the count is blank
        return None
    return None


def _dataset_files(sources: Iterable[str]) -> dict[str, Path]:
    """SDTM files of the validated folders and files, by file path."""
    out: dict[str, Path] = {}
    for s in sources:
        p = Path(s)
        files = sorted(p.iterdir()) if p.is_dir() else [p]
        for f in files:
            if f.is_file() and f.suffix.lower() in _SDTM_FILES:
                out[str(f)] = f
    return out


def _bold_header(ws: Any, header: list[str]) -> None:
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"


def _p21(rule_id: str) -> str:
    meta = catalogue().get(rule_id)
    return ", ".join(meta.references.get("p21", ())) if meta else ""


def _dataset_summary(wb: Workbook, report: Report) -> None:
    ws = wb.active
    ws.title = "Dataset Summary"
    _bold_header(ws, ["Dataset", "File", "Records", "Errors", "Warnings", "Notices"])
    counts: dict[tuple[str, str], Counter[str]] = {}
    for f in report.findings:
        counts.setdefault((_dataset(f), f.file), Counter())[f.severity] += 1
    files = _dataset_files(report.sources)
    for path in files:
        if not any(k[1] == path for k in counts):
            counts[(Path(path).stem.upper(), path)] = Counter()
    for (dataset, file), c in sorted(counts.items()):
        records = _records(files[file]) if file in files else None
        ws.append([dataset, file, records, c["error"], c["warning"], c["notice"]])


def _dataset(f: Finding) -> str:
    """The dataset of a finding; for a finding about a whole file (its encoding), the file's dataset or name."""
    if f.dataset_or_resource or not f.file:
        return f.dataset_or_resource
    p = Path(f.file)
    return p.stem.upper() if p.suffix.lower() in _SDTM_FILES else p.name


def _issue_summary(wb: Workbook, report: Report) -> None:
    ws = wb.create_sheet("Issue Summary")
    _bold_header(ws, ["Dataset", "Rule", "Pinnacle 21 ID", "Severity", "Message", "Found"])
    rules = catalogue()
    found = Counter((_dataset(f), f.rule_id, f.severity) for f in report.findings)
    for (dataset, rid, severity), n in sorted(found.items()):
        title = rules[rid].title if rid in rules else ""
        ws.append([dataset, rid, _p21(rid), severity, title, n])


def _details(wb: Workbook, findings: list[Finding]) -> None:
    ws = wb.create_sheet("Details")
    _bold_header(ws, ["Dataset", "Record", "USUBJID", "Seq", "Variable", "Value", "Rule", "Pinnacle 21 ID",
                      "Severity", "Message", "File"])
    for f in findings[:EXCEL_MAX_ROWS]:
        ws.append([f.dataset_or_resource, f.row_or_entry, f.usubjid, f.seq, f.variable_or_path, f.value, f.rule_id,
                   _p21(f.rule_id), f.severity, f.message, f.file])
    if len(findings) > EXCEL_MAX_ROWS:
        ws.append([f"... {len(findings) - EXCEL_MAX_ROWS} more finding(s): the JSON or CSV report holds all"])


def _rules(wb: Workbook) -> None:
    ws = wb.create_sheet("Rules")
    _bold_header(ws, ["Rule", "Severity", "Scope", "Applies to", "Title", "Checks", "Pinnacle 21 ID",
                      "SDTMIG conformance rule", "CORE ID", "Source"])
    for r in list_rules():
        ws.append([r.id, str(r.severity), str(r.scope), ", ".join(r.applies_to), r.title, r.checks,
                   ", ".join(r.references.get("p21", ())), ", ".join(r.references.get("sdtmig_cg", ())),
                   ", ".join(r.references.get("core", ())), r.citation])


def _fixed_times(data: bytes) -> bytes:
    """The xlsx archive again with fixed entry times and document dates (same report, same bytes)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                              rb"\g<1>" + _FIXED_TIME.encode() + rb"\g<2>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


def xlsx_bytes(report: Report) -> bytes:
    wb = Workbook()
    _dataset_summary(wb, report)
    _issue_summary(wb, report)
    _details(wb, report.findings)
    _rules(wb)
    wb.properties.creator = "msc-interop"
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_times(buf.getvalue())


def write_xlsx(report: Report, path: str | Path) -> None:
    """Write the report as an Excel workbook (Dataset Summary, Issue Summary, Details, Rules)."""
    write_bytes_atomic(path, xlsx_bytes(report))
