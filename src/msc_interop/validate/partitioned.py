"""The SDTM rules over a study held one range of subjects at a time (partition.py): the same Report as
validate_study over the whole, finding for finding and in the same order, with one partition in memory.

Two passes over the partitions:

1. the whole-study facts (sdtm_context.Fact: each dataset's domain, visit and unit counts, the groups of each
   SUPP--, ...) are collected from every partition and merged: a few values per dataset;
2. every rule runs on each partition with those facts. A `Reach.SUBJECTS` rule (registry metadata, given where
   the rule is registered) finds at rows, each decided by one subject's rows: every partition finds its own
   rows' (named by their whole row through `rows`); the study-level datasets (no USUBJID) are reported by the
   first partition only. A `Reach.STUDY` rule (a missing variable, the SDTMIG version) runs once, on the first.

A rule's findings come in blocks (its calls of SdtmContext.at, in the order it makes them, rows ascending in
each); a rule calls the same blocks in every partition (what it checks follows from the columns and the facts,
never from the rows), so the whole rule's output is each block's findings from all partitions by whole row.
A rule that breaks this is a finding ("rule could not run"), not a silently different report. So every partition
must hold the same datasets with the same variables, empty where its subjects have no rows (screen failures
without EX): partitions that do not are refused (ValueError naming the partition and dataset), as the blocks a
rule calls follow from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from msc_interop.partition import StudyPartition
from msc_interop.validate.model import Finding, Reach, RuleMeta, Scope
from msc_interop.validate.registry import crashed, list_rules, reach_of, registered_functions
from msc_interop.validate.report import Report
from msc_interop.validate.rules import SdtmContext
from msc_interop.validate.rules.sdtm_context import Placement, registered_facts

Partitions = Iterable[StudyPartition] | Callable[[], Iterable[StudyPartition]]


def validate_partitions(partitions: Partitions, *, source: str = "", **context: Any) -> Report:
    """The SDTM rules over a study given as subject partitions, equal to validate_study(whole study).

    `partitions` is read twice (facts, then rules): a list, or a function that yields them afresh (so that
    only one is held at a time), not a one-shot iterator.

        >>> validate_partitions(lambda: partition_study(study, 500)).findings == validate_study(study).findings
        True

    `context`: more of SdtmContext (files, standard, ...: what validate/written_partitions.py knows).
    """
    facts, count = _facts(_each(partitions), source, context)
    rules = [m for m in list_rules() if m.scope == Scope.SDTM and m.raised_by == "function"]
    merged: dict[str, _Merge] = {m.id: _Merge(m) for m in rules}
    seen = 0
    for part in _each(partitions):
        seen += 1
        ctx = SdtmContext(part.study, source, rows=part.rows, facts=facts, once=part.first, **context)
        for meta in rules:
            if reach_of(meta.id) == Reach.STUDY and not part.first:
                continue
            merged[meta.id].add(part.index, _run(ctx, meta))
    if seen != count:
        raise ValueError(f"the partitions changed between the two passes ({count}, then {seen})")
    return Report([f for m in rules for f in merged[m.id].findings()], sources=[source] if source else [])


def _each(partitions: Partitions) -> Iterator[StudyPartition]:
    if callable(partitions):
        return iter(partitions())
    if iter(partitions) is partitions:
        raise TypeError("validate_partitions reads the partitions twice (the whole-study facts, then the rules): "
                        "give a list or a function that yields them, not a one-shot iterator")
    return iter(partitions)


def _facts(partitions: Iterator[StudyPartition], source: str, context: dict[str, Any]
           ) -> tuple[dict[str, Any], int]:
    """Every declared whole-study fact, collected from each partition and merged; and how many there were."""
    facts = registered_facts()
    parts: dict[str, Any] = {}
    count = 0
    shape: dict[str, list[str]] | None = None
    for part in partitions:
        shape = _same_shape(part, shape)
        ctx = SdtmContext(part.study, source, rows=part.rows, once=part.first, **context)
        for f in facts:
            mine = f.collect(ctx)
            parts[f.name] = f.merge(parts[f.name], mine) if f.name in parts else mine
        count += 1
    if not count:
        raise ValueError("validate_partitions needs at least one partition (partition_study gives one even for "
                         "an empty study)")
    return {f.name: f.finish(parts[f.name]) for f in facts}, count


def _same_shape(part: StudyPartition, first: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """Each dataset's columns in `part`; ValueError unless they are the first partition's (`first`): a partition
    whose subjects have no rows of a dataset must hold it empty, or every rule would check other things there
    and be reported as one that could not run."""
    mine = {name: [str(c) for c in df.columns] for name, df in part.study.datasets.items()}
    if first is None or mine == first:
        return mine
    for name in sorted(first.keys() | mine.keys()):
        if name not in mine or name not in first:
            has, lacks = ("the first", f"partition {part.index}") if name in first else \
                (f"partition {part.index}", "the first")
            raise ValueError(f"{lacks} has no {name} dataset but {has} has: every partition must hold every "
                             "dataset, empty where its subjects have no rows (partition.py)")
        if mine[name] != first[name]:
            raise ValueError(f"partition {part.index}'s {name} has the variables {', '.join(mine[name])}; the "
                             f"first's {', '.join(first[name])}: every partition must hold the same")
    return mine


_Entry = tuple[tuple[int, int, int, int, int], Finding]  # (sort key, finding)


def _run(ctx: SdtmContext, meta: RuleMeta) -> tuple[list[tuple[Any, ...]], list[_Entry]]:
    """One rule on one partition: the blocks it called, and its findings with their sort keys."""
    fn = registered_functions().get(meta.id)
    if fn is None:
        return [], [((-1, 1, 0, 0, 0), crashed(meta, "no function is registered for this rule",
                                               file=ctx.source))]
    ctx.placement = placement = Placement()
    out: list[_Entry] = []
    try:
        for f in fn(ctx, meta):
            where = placement.where.get(id(f))
            # a finding outside any block (a dataset-level one) goes after the blocks called before it
            key = (where[0], 0, where[1], 0, 0) if where else (len(placement.blocks) - 1, 1, 0, 0, len(out))
            out.append((key, f))
    except Exception as exc:  # as registry.run: a rule that cannot run is reported, never swallowed
        out.append(((len(placement.blocks) - 1, 1, 0, 0, len(out)),
                    crashed(meta, f"{type(exc).__name__}: {exc}", file=ctx.source)))
    finally:
        ctx.placement = None
    return placement.blocks, out


class _Merge:
    """One rule's findings from every partition, put in the order the whole-study run gives them."""

    def __init__(self, meta: RuleMeta):
        self.meta = meta
        self.blocks: list[tuple[Any, ...]] | None = None
        self.entries: list[tuple[tuple[int, ...], Finding]] = []
        self.broken = ""

    def add(self, index: int, result: tuple[list[tuple[Any, ...]], list[_Entry]]) -> None:
        blocks, entries = result
        if self.blocks is None:
            self.blocks = blocks
        elif blocks != self.blocks and not self.broken:
            self.broken = (f"it checks {len(blocks)} things in partition {index} but {len(self.blocks)} in the "
                           "first, or in another order (its checks must follow from the columns and the "
                           "whole-study facts, not from the rows)")
        self.entries += [((k[0], k[1], k[2], index, k[4]), f) for k, f in entries]

    def findings(self) -> list[Finding]:
        if self.broken:
            return [crashed(self.meta, f"over partitions: {self.broken}")]
        out: list[Finding] = []
        for _key, f in sorted(self.entries, key=lambda e: e[0]):
            if f.message.startswith("rule could not run") and f in out:
                continue  # the same failure in every partition is one finding, as over the whole
            out.append(f)
        return out
