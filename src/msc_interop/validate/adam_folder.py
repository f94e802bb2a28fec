"""validate's handler for an ADaM folder (ADSL beside its analysis datasets, as to-adam writes them): each dataset
file read (an unreadable one is MSC-IO-001; any other file is named by MSC-ADAM-008, never passed over), the ADaM rules
(validate/rules/adam.py) over the datasets, and, with a define.xml beside them, the define.xml rules (scope
"define", validate/rules/define.py) as for SDTM: the XSD, and the data against the define (datasets and variables
described and present, DataType, Length, codelist values, Dataset-JSON OIDs). The SDTM-only check of def:Class
against the SDTM class of a domain (MSC-DEF-011) does not apply to ADaM classes (DefineContext.model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from msc_interop.errors import MscInteropError
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.registry import get_rule, run
from msc_interop.validate.rules.adam import AdamContext
from msc_interop.validate.rules.define import DefineContext


def validate_adam(folder: Path, define: Path | None = None, tree: etree._ElementTree | None = None
                  ) -> list[Finding]:
    """The findings of an ADaM folder; `define` and its parsed `tree` (None: no define.xml, or one that could not
    be parsed, which the caller reports) add the define.xml rules over the datasets read."""
    from msc_interop.adam import files as adam_files

    findings: list[Finding] = []
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, Path] = {}
    headers: dict[str, dict[str, Any]] = {}
    read, unread = adam_files.folder_files(folder)
    for p in read.values():
        try:
            name, df, header = adam_files.read_dataset_with_header(p)
        except (MscInteropError, OSError, ValueError) as exc:
            findings.append(get_rule("MSC-IO-001").finding(file=str(p), kind="an ADaM dataset", error=str(exc)))
            continue
        frames[name] = df
        paths[name] = p
        if header is not None:
            headers[name] = header
    skipped = [(str(u.path), u.reason) for u in unread if u.kind != "report"]  # reports: the tool's own, left out
    findings += run(Scope.ADAM, AdamContext(frames, {k: str(v) for k, v in paths.items()}, skipped),
                    file=str(folder))
    if define is not None and tree is not None:
        suffixes = {p.suffix.lower().lstrip(".") for p in paths.values()}
        ctx = DefineContext(define, tree, frames, paths, suffixes.pop() if len(suffixes) == 1 else "", headers,
                            folder_datasets=frozenset(read), model="ADaM")
        findings += run(Scope.DEFINE, ctx, file=str(define))
    return findings
