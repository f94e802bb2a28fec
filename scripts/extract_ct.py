#!/usr/bin/env python3
"""Extract the CDISC SDTM Controlled Terminology subset that msc-interop ships.

Input is the official NCI EVS tab-delimited export of a CDISC SDTM CT package
(e.g. ``SDTM_Terminology_2025-03-25.txt``). Its columns are::

    Code, Codelist Code, Codelist Extensible (Yes/No), Codelist Name,
    CDISC Submission Value, CDISC Synonym(s), CDISC Definition, NCI Preferred Term

A row whose ``Codelist Code`` is empty is a codelist; its ``CDISC Submission
Value`` is the codelist short name (``NY``, ``UNIT``, ``LBTESTCD``...). The other
rows are terms of the codelist named by their ``Codelist Code``.

Output is ``mappings/codelists.json`` (schema: ``mappings/schema/codelists.schema.json``)::

    {"source": {"publisher": "NCI EVS", "package": "SDTM CT 2025-03-25",
                "package_date": "2025-03-25", "file": "...", "generated_by": "scripts/extract_ct.py"},
     "codelists": {"NY": {"nci_code": "C66742", "name": "No Yes Response", "extensible": false,
                          "terms": [{"value": "N", "nci_code": "C49487", "synonyms": ["No"],
                                     "preferred_term": "No", "definition": "..."}, ...]}, ...}}

Terms are sorted by submission value; ``definition`` is kept only for codelists
with fewer than 100 terms (so LBTESTCD, LBTEST and UNIT stay small). The output
is deterministic (sorted keys, indent 1, UTF-8, trailing newline), so re-running
on the same package gives a byte-identical file and a newer package gives a
reviewable diff.

Usage (from the repository root)::

    python scripts/extract_ct.py \\
        --ct ../shared/external/cdisc-ct/SDTM_Terminology_2025-03-25.txt \\
        --out mappings/codelists.json

A requested short name that the package does not contain is reported as a
warning on stderr and skipped (exit code stays 0); ``--strict`` makes it an error.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

#: Codelists the package needs (short names = CDISC submission value of the codelist row).

DEFAULT_CODELISTS: tuple[str, ...] = (
    "NY",
    "SEX",
    "RACE",
    "ETHNIC",
    "AESEV",
    "OUT",
    "ROUTE",
    "UNIT",
    "NRIND",
    "LBTESTCD",
    "LBTEST",
    "VSTESTCD",
    "VSTEST",
    "VSRESU",
    "POSITION",
    "AGEU",
    "ACN",
    "EPOCH",
    "FRM",
    "DOMAIN",
    "STENRF",
    "SPECTYPE",
    "ND",
    "ARMNULRS",
    "EGTESTCD",
    "EGTEST",
    "FREQ",
    "TSPARMCD",
    "TSPARM",
    # EG (issue 14, eg): the ECG result terms of findings rows (EGSTRESC, C71150) and the overall
    # interpretation NORMAL / ABNORMAL (NORMABNM, C101834)
    "EGSTRESC",
    "PROCEDUR",
    "RETESTCD",
    "RETEST",
    "NORMABNM",
    "NCOMPLT",
    "DSCAT",
    # TS TCNTRL (Control Type, C49647): its value codelist Control Type Response (C66785), PLACEBO C49648
    "TCNTRL",
)

#: Codelists with at least this many terms are written without term definitions.
DEFINITION_LIMIT = 100

EXPECTED_COLUMNS: tuple[str, ...] = (
    "Code",
    "Codelist Code",
    "Codelist Extensible (Yes/No)",
    "Codelist Name",
    "CDISC Submission Value",
    "CDISC Synonym(s)",
    "CDISC Definition",
    "NCI Preferred Term",
)

_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


class CTFormatError(ValueError):
    """The input file is not an NCI EVS SDTM CT tab-delimited export."""


def read_ct(path: Path) -> list[dict[str, str]]:
    """Read the NCI EVS export into a list of row dicts keyed by column name.

    Quoting is disabled: the export is plain tab-separated text whose definitions
    contain literal double quotes.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != EXPECTED_COLUMNS:
            raise CTFormatError(
                f"{path}: header {header!r} is not the NCI EVS SDTM CT layout {list(EXPECTED_COLUMNS)!r}"
            )
        rows = []
        for line_no, values in enumerate(reader, start=2):
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(EXPECTED_COLUMNS):
                raise CTFormatError(
                    f"{path} line {line_no}: {len(values)} fields, expected {len(EXPECTED_COLUMNS)}"
                )
            rows.append({k: v.strip() for k, v in zip(EXPECTED_COLUMNS, values, strict=True)})
    return rows


def split_synonyms(text: str) -> list[str]:
    """Split the ``CDISC Synonym(s)`` cell (separator ``'; '``) into a clean list."""
    return [s.strip() for s in text.split(";") if s.strip()] if text else []


def extract(rows: list[dict[str, str]], wanted: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Return (codelists mapping, missing short names) for the requested short names."""
    codelist_rows: dict[str, dict[str, str]] = {}
    for row in rows:
        if not row["Codelist Code"]:
            short = row["CDISC Submission Value"]
            if short in codelist_rows:
                raise CTFormatError(f"codelist short name {short!r} appears twice")
            codelist_rows[short] = row

    terms_by_codelist: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["Codelist Code"]:
            terms_by_codelist.setdefault(row["Codelist Code"], []).append(row)

    out: dict[str, Any] = {}
    missing: list[str] = []
    for short in wanted:
        cl = codelist_rows.get(short)
        if cl is None:
            missing.append(short)
            continue
        term_rows = terms_by_codelist.get(cl["Code"], [])
        with_definition = len(term_rows) < DEFINITION_LIMIT
        terms = []
        seen: set[str] = set()
        for t in sorted(term_rows, key=lambda r: r["CDISC Submission Value"]):
            value = t["CDISC Submission Value"]
            if value in seen:
                raise CTFormatError(f"codelist {short}: submission value {value!r} appears twice")
            seen.add(value)
            term: dict[str, Any] = {
                "value": value,
                "nci_code": t["Code"],
                "synonyms": split_synonyms(t["CDISC Synonym(s)"]),
                "preferred_term": t["NCI Preferred Term"],
            }
            if with_definition:
                term["definition"] = t["CDISC Definition"]
            terms.append(term)
        extensible = cl["Codelist Extensible (Yes/No)"]
        if extensible not in ("Yes", "No"):
            raise CTFormatError(f"codelist {short}: extensible flag {extensible!r} is not Yes/No")
        out[short] = {
            "nci_code": cl["Code"],
            "name": cl["Codelist Name"],
            "extensible": extensible == "Yes",
            "terms": terms,
        }
    return out, missing


def build_document(
    ct_path: Path, wanted: list[str], package_date: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Read ``ct_path`` and build the codelists.json document (and the missing short names)."""
    if package_date is None:
        match = _DATE_IN_NAME.search(ct_path.name)
        if match is None:
            raise CTFormatError(
                f"cannot read the CT package date from file name {ct_path.name!r}; "
                "pass --package-date YYYY-MM-DD"
            )
        package_date = match.group(1)
    codelists, missing = extract(read_ct(ct_path), wanted)
    document = {
        "source": {
            "publisher": "NCI EVS",
            "package": f"SDTM CT {package_date}",
            "package_date": package_date,
            "file": ct_path.name,
            "generated_by": "scripts/extract_ct.py",
        },
        "codelists": codelists,
    }
    return document, missing


def dumps(document: dict[str, Any]) -> str:
    """Serialise deterministically: sorted keys, indent 1, UTF-8 text, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ct", required=True, type=Path, help="NCI EVS SDTM CT tab-delimited export (.txt)")
    parser.add_argument("--out", required=True, type=Path, help="output JSON file (mappings/codelists.json)")
    parser.add_argument(
        "--codelists",
        default=",".join(DEFAULT_CODELISTS),
        help="comma-separated codelist short names (default: the set msc-interop needs)",
    )
    parser.add_argument(
        "--package-date", help="CT package date YYYY-MM-DD (default: read from the file name)"
    )
    parser.add_argument("--strict", action="store_true", help="fail when a requested codelist is missing")
    args = parser.parse_args(argv)

    wanted = [s.strip() for s in args.codelists.split(",") if s.strip()]
    try:
        document, missing = build_document(args.ct, wanted, args.package_date)
    except (OSError, CTFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for short in missing:
        print(
            f"warning: codelist {short!r} is not in {args.ct.name} (CDISC CT package "
            f"{document['source']['package_date']}); skipped",
            file=sys.stderr,
        )
    if missing and args.strict:
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(document), encoding="utf-8")
    n_terms = sum(len(c["terms"]) for c in document["codelists"].values())
    print(f"wrote {args.out}: {len(document['codelists'])} codelists, {n_terms} terms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
