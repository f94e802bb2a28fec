"""docs/validation-rules.md, generated from the rule data (mappings/validation_rules.yaml).

    python -c "from msc_interop.validate.docs import write_rules_doc; write_rules_doc('docs/validation-rules.md')"

A test checks that the committed file equals `rules_markdown()`, so the documentation cannot drift from the data.
"""

from __future__ import annotations

from pathlib import Path

from msc_interop.atomic import write_bytes_atomic
from msc_interop.validate.model import RuleMeta, Scope
from msc_interop.validate.registry import list_rules

_SCOPE_TITLES = {
    Scope.SDTM: "SDTM datasets (rules over the Study)",
    Scope.XPT: "XPT v5 files",
    Scope.DATASETJSON: "Dataset-JSON 1.1 files",
    Scope.DEFINE: "Define-XML 2.1",
    Scope.FHIR: "FHIR resources (R4, R5)",
    Scope.RECORDS: "Study records",
    Scope.ADAM: "ADaM datasets (ADSL, ADAE, ADLB, ADEX)",
    Scope.IO: "Input files",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rules_markdown() -> str:
    """The rule catalogue as Markdown: a summary table, then one section per rule."""
    rules = list_rules()
    lines = [
        "# Validation rules",
        "",
        "<!-- Generated from mappings/validation_rules.yaml by msc_interop.validate.docs.write_rules_doc; "
        "do not edit by hand. -->",
        "",
        "`msc-interop validate` runs these rules; `msc-interop validate --list-rules` prints the same list. Each",
        "finding names the rule, its severity, the file, the dataset or FHIR resource, the row (SDTM, 1 = first",
        "record; define.xml: the line) or entry (Bundle entry index from 0; NDJSON line from 1), USUBJID and --SEQ",
        "where known, the variable or FHIRPath, the value and a message.",
        "",
        "Severity: **error** breaks the standard; **warning** is probably wrong or needs a declaration elsewhere;",
        "**notice** is information. A rule that cannot run is reported as an error finding of that rule",
        "(\"rule could not run: ...\"), never skipped silently.",
        "",
        f"{len(rules)} rules.",
        "",
        "`references` name the same check in Pinnacle 21 Community (SDxxxx, CTxxxx; ADxxxx for ADaM) and in the",
        "SDTM and SDTMIG Conformance Rules (CGxxxx), so that reports can be reconciled; an id is given only where its",
        "source confirms it (the source is named under each rule).",
        "",
        "| id | severity | scope | applies to | what is wrong | references |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| [{r.id}](#{r.id.lower()}) | {r.severity} | {r.scope} | {_cell(', '.join(r.applies_to))} | "
              f"{_cell(r.title)} | {_cell(r.reference_text())} |" for r in rules]
    for scope in Scope:
        chosen = [r for r in rules if r.scope == scope]
        if not chosen:
            continue
        lines += ["", f"## {_SCOPE_TITLES[scope]}"]
        for r in chosen:
            lines += _section(r)
    return "\n".join(lines) + "\n"


def _section(r: RuleMeta) -> list[str]:
    out = [
        "",
        f"### {r.id}",
        "",
        f"**{r.title}** ({r.severity}; applies to {', '.join(r.applies_to)})",
        "",
        r.checks,
        "",
        f"- Message: `{r.message}`",
    ]
    out += [f"- Message ({name}): `{text}`" for name, text in r.variants.items()]
    if r.raised_by == "engine":
        out.append("- Raised by the validation engine itself (not by a rule function).")
    out.append(f"- Source: {r.citation}")
    if r.references:
        out.append(f"- References: {r.reference_text()} (from {r.references_source})")
    return out


def write_rules_doc(path: str | Path) -> None:
    """Write the generated rule catalogue to `path` (docs/validation-rules.md in the repository)."""
    write_bytes_atomic(path, rules_markdown().encode("utf-8"))
