"""The validation report: one object (`valid` at a fail-on level, counts, findings) and its renderers.

Renderers take only the report and a destination (a path, a rich Console); they never see command-line
arguments, so the CLI, `to-sdtm` and scripts print the same thing. JSON and CSV hold every finding; the HTML
page is self-contained (inline CSS, no scripts or external links) and lists up to `HTML_MAX_ROWS` findings; the
Excel workbook (validate/excel.py) has P21's sheets: Dataset Summary, Issue Summary, Details, Rules.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from msc_interop.atomic import write_bytes_atomic
from msc_interop.errors import MscInteropError
from msc_interop.validate.model import FINDING_FIELDS, Finding, Severity
from msc_interop.validate.registry import catalogue

FAIL_ON_LEVELS = ("error", "warning", "notice")
HTML_MAX_ROWS = 20_000


def _level(fail_on: str) -> Severity:
    if fail_on not in FAIL_ON_LEVELS:
        raise MscInteropError(f"fail-on level {fail_on!r} is not known; use one of: {', '.join(FAIL_ON_LEVELS)}")
    return Severity(fail_on)


@dataclass
class Report:
    """All findings of one validation run.

    `valid` says whether nothing at or above `fail_on` was found (default: no error).

        >>> report = validate_paths([Path("out/sdtm")])          # doctest: +SKIP
        >>> report.valid, report.counts_by_severity()            # doctest: +SKIP
        (True, {'error': 0, 'warning': 0, 'notice': 0})
    """

    findings: list[Finding] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    fail_on: str = "error"

    def __post_init__(self) -> None:
        _level(self.fail_on)

    # --- verdict and counts ---

    def passes(self, fail_on: str | None = None) -> bool:
        """True when no finding has a severity at or above `fail_on` (the report's own level by default)."""
        rank = _level(fail_on or self.fail_on).rank
        return not any(Severity(f.severity).rank >= rank for f in self.findings)

    @property
    def valid(self) -> bool:
        return self.passes()

    def counts_by_severity(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {s.value: c.get(s.value, 0) for s in Severity}

    def counts_by_rule(self) -> dict[str, int]:
        """Rule id -> number of findings, rules ordered by severity (errors first), then id."""
        c = Counter(f.rule_id for f in self.findings)
        sev = {f.rule_id: f.severity for f in self.findings}
        return dict(sorted(c.items(), key=lambda kv: (-Severity(sev[kv[0]]).rank, kv[0])))

    def __len__(self) -> int:
        return len(self.findings)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def first_findings(self, limit: int) -> list[Finding]:
        """Up to `limit` findings, taken in turn from each rule (errors first), each rule's in report order, so
        that one rule with a thousand findings does not hide the others."""
        queues: dict[str, list[Finding]] = {}
        for f in self.findings:
            if len(queues.setdefault(f.rule_id, [])) < limit:
                queues[f.rule_id].append(f)
        order = [queues[rid] for rid in self.counts_by_rule()]
        out: list[Finding] = []
        depth = 0
        while len(out) < limit and any(depth < len(q) for q in order):
            out += [q[depth] for q in order if depth < len(q)][: limit - len(out)]
            depth += 1
        return out

    # --- renderers ---

    def to_dict(self) -> dict[str, Any]:
        rules = catalogue()
        return {
            "valid": self.valid,
            "fail_on": self.fail_on,
            "sources": list(self.sources),
            "counts": self.counts_by_severity(),
            "rules": [
                {"rule_id": rid, "severity": _severity_of(rid, self.findings), "count": n,
                 "title": rules[rid].title if rid in rules else "",
                 "references": {k: list(v) for k, v in rules[rid].references.items()} if rid in rules else {}}
                for rid, n in self.counts_by_rule().items()
            ],
            "findings": [f.as_dict() for f in self.findings],
        }

    def to_json(self, path: str | Path) -> None:
        write_bytes_atomic(path, orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")

    def to_csv(self, path: str | Path) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([*FINDING_FIELDS, "references"])
        refs = {rid: meta.reference_text() for rid, meta in catalogue().items()}
        for f in self.findings:
            w.writerow(["" if v is None else v for v in (getattr(f, k) for k in FINDING_FIELDS)]
                       + [refs.get(f.rule_id, "")])
        write_bytes_atomic(path, buf.getvalue().encode("utf-8"))

    def to_html(self, path: str | Path) -> None:
        write_bytes_atomic(path, render_html(self).encode("utf-8"))

    def to_xlsx(self, path: str | Path) -> None:
        from msc_interop.validate.excel import write_xlsx  # openpyxl is loaded only for an Excel report

        write_xlsx(self, path)

    def write(self, path: str | Path) -> None:
        """Write the report in the format of the file suffix: .json, .csv, .html or .xlsx."""
        suffix = Path(path).suffix.lower()
        writers = {".json": self.to_json, ".csv": self.to_csv, ".html": self.to_html, ".htm": self.to_html,
                   ".xlsx": self.to_xlsx}
        if suffix not in writers:
            raise MscInteropError(f"report file {path}: unknown suffix {suffix or '(none)'}; "
                                  "use .json, .csv, .html or .xlsx")
        writers[suffix](path)

    def console(self, console: Any, limit: int = 20) -> None:
        """Print counts by severity and by rule, then the first `limit` findings, to a rich Console."""
        from rich.table import Table

        counts = self.counts_by_severity()
        verdict = "[bold green]valid[/]" if self.valid else "[bold red]not valid[/]"
        console.print(f"Validation: {verdict} (fail on {self.fail_on}): {counts['error']} error(s), "
                      f"{counts['warning']} warning(s), {counts['notice']} notice(s)")
        if not self.findings:
            return
        rules = catalogue()
        by_rule = Table(title="Findings by rule", show_lines=False)
        for col in ("rule", "severity", "count", "what"):
            by_rule.add_column(col, justify="right" if col == "count" else "left")
        for rid, n in self.counts_by_rule().items():
            sev = _severity_of(rid, self.findings)
            by_rule.add_row(rid, _styled(sev), str(n), rules[rid].title if rid in rules else "")
        console.print(by_rule)
        shown = self.first_findings(limit)
        first = Table(title=f"First {len(shown)} of {len(self.findings)} findings")
        first.add_column("rule", no_wrap=True)
        first.add_column("where", overflow="fold", ratio=2)
        first.add_column("message", overflow="fold", ratio=3)
        for f in shown:
            first.add_row(f"{f.rule_id}\n{_styled(f.severity)}", location(f), f.message)
        console.print(first)
        if len(self.findings) > limit:
            console.print(f"... {len(self.findings) - limit} more finding(s) in the full report")


def location(f: Finding) -> str:
    """Where a finding is, in one line: file, dataset or resource, row or entry, USUBJID, --SEQ, variable or path.

    >>> location(Finding("MSC-SDTM-008", "error", "out/lb.xpt", "LB", 20, "S-01", 20, "LBDY"))
    'lb.xpt LB row 20 USUBJID S-01 seq 20 LBDY'
    """
    fhir = "/" in f.dataset_or_resource or f.variable_or_path.startswith(f.dataset_or_resource + ".")
    if f.row_or_entry is None:
        row = ""
    elif f.dataset_or_resource == "define.xml" or (fhir and Path(f.file).suffix.lower() == ".ndjson"):
        row = f"line {f.row_or_entry}"
    else:
        row = f"{'entry' if fhir else 'row'} {f.row_or_entry}"
    name = Path(f.file).name if f.file else ""
    parts = [name, f.dataset_or_resource if f.dataset_or_resource != name else "", row,
             f"USUBJID {f.usubjid}" if f.usubjid else "", "" if f.seq is None else f"seq {f.seq}", f.variable_or_path]
    return " ".join(p for p in parts if p)


def _severity_of(rule_id: str, findings: Sequence[Finding]) -> str:
    rules = catalogue()
    if rule_id in rules:
        return str(rules[rule_id].severity)
    return next((f.severity for f in findings if f.rule_id == rule_id), "error")


def _styled(severity: str) -> str:
    colour = {"error": "red", "warning": "yellow", "notice": "cyan"}.get(severity, "white")
    return f"[{colour}]{severity}[/]"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f2f2f2;position:sticky;top:0}
td.num{text-align:right}
.error{color:#b00020;font-weight:600}.warning{color:#a65e00;font-weight:600}.notice{color:#00639b}
.ok{color:#1b7f3b;font-weight:600}.bad{color:#b00020;font-weight:600}
code{font-size:.85rem}
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (no scripts, no external resources)."""
    e = html.escape
    counts = report.counts_by_severity()
    rules = catalogue()
    verdict = '<span class="ok">valid</span>' if report.valid else '<span class="bad">not valid</span>'
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>msc-interop validation report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>msc-interop validation report</h1>",
        f"<p>Result: {verdict} (fail on {e(report.fail_on)}): {counts['error']} error(s), "
        f"{counts['warning']} warning(s), {counts['notice']} notice(s).</p>",
    ]
    if report.sources:
        parts.append("<p>Validated: " + ", ".join(f"<code>{e(s)}</code>" for s in report.sources) + "</p>")
    if report.findings:
        parts.append("<h2>Findings by rule</h2><table><tr><th>rule</th><th>severity</th><th>count</th>"
                     "<th>what</th><th>citation</th><th>references</th></tr>")
        for rid, n in report.counts_by_rule().items():
            sev = _severity_of(rid, report.findings)
            meta = rules.get(rid)
            parts.append(f'<tr><td>{e(rid)}</td><td class="{sev}">{sev}</td><td class="num">{n}</td>'
                         f"<td>{e(meta.title) if meta else ''}</td><td>{e(meta.citation) if meta else ''}</td>"
                         f"<td>{e(meta.reference_text()) if meta else ''}</td></tr>")
        parts.append("</table>")
        shown = report.findings[:HTML_MAX_ROWS]
        parts.append(f"<h2>Findings ({len(report.findings)})</h2>")
        if len(shown) < len(report.findings):
            parts.append(f"<p>The first {len(shown)} are listed; the JSON or CSV report holds all of them.</p>")
        heads = ["rule", "severity", "file", "dataset / resource", "row / entry", "USUBJID", "seq",
                 "variable / path", "value", "message"]
        parts.append("<table><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>")
        for f in shown:
            cells = [e(f.rule_id), f'<span class="{f.severity}">{f.severity}</span>', e(f.file),
                     e(f.dataset_or_resource), "" if f.row_or_entry is None else str(f.row_or_entry), e(f.usubjid),
                     "" if f.seq is None else str(f.seq), e(f.variable_or_path), e(f.value), e(f.message)]
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No findings.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def exit_code(report: Report, fail_on: str = "error") -> int:
    """0 when the report passes at `fail_on` (error or warning), else 1."""
    return 0 if report.passes(fail_on) else 1
