"""validate's handler for an ADaM folder (ADSL beside its analysis datasets, as to-adam writes them): each dataset
file read (an unreadable one is MSC-IO-001; any other file is named by MSC-ADAM-008, never passed over), the ADaM rules
(validate/rules/adam.py) over the datasets (the engine adds define.xml against the Define-XML 2.1 XSD)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_interop.errors import MscInteropError
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.registry import get_rule, run
from msc_interop.validate.rules.adam import AdamContext


def validate_adam(folder: Path) -> list[Finding]:
    from msc_interop.adam import files as adam_files

    findings: list[Finding] = []
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, str] = {}
    read, unread = adam_files.folder_files(folder)
    for p in read.values():
        try:
            name, df = adam_files.read_dataset(p)
        except (MscInteropError, OSError, ValueError) as exc:
            findings.append(get_rule("MSC-IO-001").finding(file=str(p), kind="an ADaM dataset", error=str(exc)))
            continue
        frames[name] = df
        paths[name] = str(p)
    skipped = [(str(u.path), u.reason) for u in unread if u.kind != "report"]  # reports: the tool's own, left out
    findings += run(Scope.ADAM, AdamContext(frames, paths, skipped), file=str(folder))
    return findings
