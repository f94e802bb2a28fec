"""What a push did, per resource type: created / updated / unchanged / deleted / failed, each failure with
the server's OperationOutcome; printed by the command and written as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OUTCOMES = ("created", "updated", "unchanged", "deleted", "failed")


@dataclass
class PushReport:
    server: str
    study: str | None = None
    mode: str = "transaction"
    batch_size: int = 50
    dry_run: bool = False
    input_resources: int = 0
    resumed: int = 0  # outcomes taken from the checkpoint of an interrupted push
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    input_problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the input lacks, e.g. the other pages of a search
    rejected_records: int = 0  # records to-fhir could not convert (its reject report)
    notes: list[str] = field(default_factory=list)
    provenance: str | None = None
    interrupted: str | None = None
    requests: int = 0
    retried: int = 0

    def add(self, rtype: str, outcome: str, n: int = 1) -> None:
        row = self.counts.setdefault(rtype, dict.fromkeys(OUTCOMES, 0))
        row[outcome] += n

    def fail(self, rtype: str, rid: str, status: str, outcome: Any) -> None:
        self.add(rtype, "failed")
        self.failures.append({"resource": f"{rtype}/{rid}", "status": status, "outcome": outcome})

    def total(self, outcome: str) -> int:
        return sum(row[outcome] for row in self.counts.values())

    @property
    def complete(self) -> bool:
        """Everything in the input reached the server (or was found there unchanged)."""
        return not (self.failures or self.input_problems or self.rejected_records or self.interrupted)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()}

    def lines(self) -> list[str]:
        """The report as the command prints it: one line per resource type, then the failures."""
        verb = "would be " if self.dry_run else ""
        head = f"{'dry run: ' if self.dry_run else ''}push of study {self.study} to {self.server} " \
               f"({self.mode}, {self.batch_size} per request)"
        out = [head, f"  {'resource type':<26}" + "".join(f"{o:>11}" for o in OUTCOMES)]
        for rtype in sorted(self.counts):
            out.append(f"  {rtype:<26}" + "".join(f"{self.counts[rtype][o]:>11}" for o in OUTCOMES))
        out.append(f"  {'total':<26}" + "".join(f"{self.total(o):>11}" for o in OUTCOMES))
        if self.dry_run:
            out.append(f"  (nothing was sent: the counts say what {verb}done)")
        if self.resumed:
            out.append(f"  resumed: {self.resumed} outcome(s) from the checkpoint of an interrupted push")
        for f in self.failures[:20]:
            out.append(f"  failed {f['resource']}: {f['status']} {_outcome_line(f['outcome'])}")
        if len(self.failures) > 20:
            out.append(f"  ... {len(self.failures) - 20} more failure(s) in the JSON report")
        for p in self.input_problems[:10]:
            out.append(f"  not sent: {p}")
        for w in self.warnings:
            out.append(f"  warning: {w}")
        if self.provenance:
            out.append(f"  provenance: {self.provenance}")
        return out


def _outcome_line(outcome: Any) -> str:
    from msc_interop.server.client import outcome_text

    return outcome_text(outcome)
