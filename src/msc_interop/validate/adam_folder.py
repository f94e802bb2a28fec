"""validate's handler for an ADaM folder (ADSL beside its analysis datasets, as to-adam writes them): each file
read (an unreadable one is MSC-IO-001), the ADaM rules
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
    from msc_interop.adam.metadata import datasets as adam_datasets

    findings: list[Finding] = []
    frames: dict[str, pd.DataFrame] = {}
    paths: dict[str, str] = {}
    for p in sorted(folder.iterdir()):
        known = p.suffix.lower() in adam_files.SUFFIX.values() and p.stem.upper() in adam_datasets()
        if not p.is_file() or not known:
            continue
        if p.stem.upper() in frames:
            continue
        try:
            name, df = adam_files.read_dataset(p)
        except (MscInteropError, OSError, ValueError) as exc:
            findings.append(get_rule("MSC-IO-001").finding(file=str(p), kind="an ADaM dataset", error=str(exc)))
            continue
        frames[name] = df
        paths[name] = str(p)
    findings += run(Scope.ADAM, AdamContext(frames, paths), file=str(folder))
    return findings
