"""The whole bad-input corpus: every `cases_*.py` module beside this one registers its cases on import."""

from __future__ import annotations

import importlib
from pathlib import Path

from .registry import CASES, Case

for _module in sorted(Path(__file__).parent.glob("cases_*.py")):
    importlib.import_module(f"{__package__}.{_module.stem}")

__all__ = ["CASES", "Case"]
