"""The rule registry: metadata from mappings/validation_rules.yaml, logic from small functions registered by id.

    @rule("MSC-SDTM-008")
    def no_day_zero(ctx: SdtmContext, rule: RuleMeta) -> Iterable[Finding]:
        ...

The rule modules register themselves when imported: `import msc_interop.validate.rules` registers them all
(this module imports none of them, so that they can import it).

`run(scope, ctx)` runs every rule of a scope in id order and collects all findings. It never fails fast and never
swallows an error: a rule function that raises becomes a finding of its own ("rule could not run: ..."), so a
check that did not happen can never look like a check that passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from msc_interop import mappings
from msc_interop.errors import MappingDataError
from msc_interop.validate.model import Finding, Reach, RuleMeta, Scope, Severity, as_text

RuleFunction = Callable[[Any, RuleMeta], Iterable[Finding]]
F = TypeVar("F", bound=RuleFunction)

_FUNCTIONS: dict[str, RuleFunction] = {}
_REACH: dict[str, Reach] = {}
_SCOPE_ORDER = [s.value for s in Scope]


def rule(rule_id: str, *, reach: Reach | None = None) -> Callable[[F], F]:
    """Register the function that checks rule `rule_id` (its metadata lives in validation_rules.yaml); an SDTM
    rule says what it reads (`reach`: model.Reach), so that it can run over subject partitions."""

    def register(fn: F) -> F:
        if rule_id in _FUNCTIONS and _FUNCTIONS[rule_id] is not fn:
            raise MappingDataError(f"two functions are registered for rule {rule_id}: "
                                   f"{_FUNCTIONS[rule_id].__qualname__} and {fn.__qualname__}")
        _FUNCTIONS[rule_id] = fn
        if reach is not None:
            _REACH[rule_id] = reach
        return fn

    return register


@functools.cache
def catalogue() -> dict[str, RuleMeta]:
    """All rules by id, in the order of the data file."""
    out: dict[str, RuleMeta] = {}
    for r in mappings.load("validation_rules")["rules"]:
        if r["id"] in out:
            raise MappingDataError(f"mappings/validation_rules.yaml: rule id {r['id']} occurs twice")
        out[r["id"]] = RuleMeta(
            id=r["id"], title=r["title"], severity=Severity(r["severity"]), scope=Scope(r["scope"]),
            applies_to=tuple(r["applies_to"]), checks=" ".join(r["checks"].split()), message=r["message"],
            citation=r["citation"], raised_by=r.get("raised_by", "function"),
            variants=dict(r.get("variants", {})), params=dict(r.get("params", {})),
            references={k: tuple(v) for k, v in r.get("references", {}).items() if k != "source"},
            references_source=r.get("references", {}).get("source", ""),
        )
    return out


def list_rules() -> list[RuleMeta]:
    """Every rule, grouped by scope (sdtm, xpt, datasetjson, define, fhir, records, io), by id within a scope."""
    return sorted(catalogue().values(), key=lambda r: (_SCOPE_ORDER.index(r.scope.value), r.id))


def get_rule(rule_id: str) -> RuleMeta:
    try:
        return catalogue()[rule_id]
    except KeyError:
        raise MappingDataError(f"rule {rule_id} is not in mappings/validation_rules.yaml") from None


def registered_functions() -> dict[str, RuleFunction]:
    """Rule id -> function, of every rule module imported so far (msc_interop.validate.rules imports them all)."""
    return dict(_FUNCTIONS)


def reach_of(rule_id: str) -> Reach | None:
    """What a registered rule reads (None: it did not say; every SDTM rule must, tests/validate/test_partitioned.py)."""
    return _REACH.get(rule_id)


def run(scope: Scope, ctx: Any, *, file: str = "", dataset: str = "", rules: list[RuleMeta] | None = None
        ) -> list[Finding]:
    """Run every rule of `scope` (or of `rules`, the caller's list_rules() kept) over `ctx`; collect all
    findings (a crashing rule becomes a finding)."""
    out: list[Finding] = []
    for meta in list_rules() if rules is None else rules:
        if meta.scope != scope or meta.raised_by != "function":
            continue
        fn = _FUNCTIONS.get(meta.id)
        if fn is None:
            out.append(crashed(meta, "no function is registered for this rule", file=file, dataset=dataset))
            continue
        try:
            for f in fn(ctx, meta):
                out.append(f)
        except Exception as exc:  # a rule that cannot run is reported, never swallowed
            out.append(crashed(meta, f"{type(exc).__name__}: {exc}", file=file, dataset=dataset))
    return out


def crashed(meta: RuleMeta, why: str, *, file: str = "", dataset: str = "") -> Finding:
    """The finding that says a rule could not run (severity error: the check did not happen)."""
    return Finding(meta.id, str(Severity.ERROR), file, dataset, None, "", None, "", "",
                   f"rule could not run: {why}")


def bulk(meta: RuleMeta, n: int, *, variant: str | None = None, **columns: Any) -> list[Finding]:
    """`n` findings of one rule at once: each column is a sequence of n values or one value for all.

    Columns: file, dataset, row, usubjid, seq, variable, value, and the template's own fields.
    """
    if n == 0:
        return []
    template = meta.template(variant)
    severity = str(meta.severity)
    seqs: dict[str, Sequence[Any]] = {}
    consts: dict[str, Any] = {}
    for k, v in columns.items():
        if isinstance(v, np.ndarray | list | tuple):
            if len(v) != n:
                raise ValueError(f"column {k} has {len(v)} values for {n} findings")
            seqs[k] = v.tolist() if isinstance(v, np.ndarray) else v
        else:
            consts[k] = v
    base = {"file": "", "dataset": "", "row": None, "usubjid": "", "seq": None, "variable": "", "value": ""}
    base.update(consts)
    fixed_text = {k: ("" if v is None else as_text(v)) for k, v in base.items()}
    out: list[Finding] = []
    for i in range(n):
        raw = dict(base)
        text = dict(fixed_text)
        for k, col in seqs.items():
            raw[k] = col[i]
            text[k] = as_text(col[i])
        row = _int_or_none(raw["row"])
        seq = _int_or_none(raw["seq"])
        out.append(Finding(meta.id, severity, text["file"], text["dataset"], row, text["usubjid"], seq,
                           text["variable"], text["value"], template.format_map(text)))
    return out


def _int_or_none(x: Any) -> int | None:
    if x is None:
        return None
    try:
        if x != x:  # NaN / NA
            return None
    except TypeError:  # pd.NA compares to NA
        return None
    return int(x)


def params(meta: RuleMeta, key: str) -> Any:
    """A rule's parameter from the data file (KeyError names the rule and key)."""
    p: Mapping[str, Any] = meta.params
    if key not in p:
        raise KeyError(f"rule {meta.id} has no parameter {key!r} in mappings/validation_rules.yaml")
    return p[key]
