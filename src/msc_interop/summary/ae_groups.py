"""Groupings of AE causality, severity and outcome: mappings/ae_groups.yaml, or a file given with
``summary --ae-groups FILE`` (same schema, schema/ae_groups.schema.json). Values compare case-insensitively."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from msc_interop import mappings
from msc_interop.errors import MscInteropError


@dataclass(frozen=True)
class AeGroups:
    related: frozenset[str]
    not_related: frozenset[str]
    missing_is_related: bool
    severity_order: tuple[str, ...]
    outcome_order: tuple[str, ...]
    source: str  # where the groupings came from, for the footnote

    def relation(self, aerel: pd.Series) -> pd.Series:
        """"related", "not related", or "unclassified" (a value the groupings do not name) for each AEREL."""
        v = aerel.fillna("").astype(str).str.strip().str.upper()
        out = pd.Series("unclassified", index=aerel.index, dtype=object)
        out[v.isin(self.related)] = "related"
        out[v.isin(self.not_related)] = "not related"
        out[v.eq("")] = "related" if self.missing_is_related else "not related"
        return out

    def note(self) -> str:
        missing = "counts as related" if self.missing_is_related else "counts as not related"
        return (f"Related: AEREL in {', '.join(sorted(self.related))}; not related: "
                f"{', '.join(sorted(self.not_related))}; an empty AEREL {missing} ({self.source}).")


def load_groups(path: str | Path | None = None) -> AeGroups:
    """The groupings of mappings/ae_groups.yaml, or of `path` (checked against the same schema)."""
    if path is None:
        data, source = mappings.load("ae_groups"), "mappings/ae_groups.yaml"
    else:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise MscInteropError(f"--ae-groups {path}: cannot be read as YAML: {exc}") from exc
        errors = sorted(jsonschema.Draft202012Validator(mappings.schema("ae_groups")).iter_errors(data),
                        key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10]]
            raise MscInteropError(f"--ae-groups {path} does not match mappings/schema/ae_groups.schema.json:\n"
                                  + "\n".join(lines))
        source = f"--ae-groups {path.name}"
    rel = data["relationship"]
    related = frozenset(v.strip().upper() for v in rel["related"])
    not_related = frozenset(v.strip().upper() for v in rel["not_related"])
    both = related & not_related
    if both:
        raise MscInteropError(f"{source}: AEREL value(s) {', '.join(sorted(both))} are both related and not related")
    return AeGroups(related, not_related, bool(rel["missing_is_related"]),
                    tuple(v.upper() for v in data["severity"]["order"]),
                    tuple(v.upper() for v in data["outcome"]["order"]), source)
