"""MSC-FHIR-007's test of one Observation: which interpretation codes (N, L, H and their kin, system v3 or none)
the value and the first reference range contradict. Shared by the rule (validate/fhir_rules.py) and the one-pass
check of NDJSON (validate/fhir_clean.py), so that both find the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LOW = {"L", "LL", "LU", "<"}
HIGH = {"H", "HH", "HU", ">"}
NORMAL = {"N"}

Wrong = tuple[float, "float | None", "float | None", str, list[tuple[int, int, str]]]


def interpretation_wrong(r: dict[str, Any], interpretation: str, parts: Callable[[], dict[str, Any] | None]
                         ) -> Wrong | None:
    """(value, low, high, expected, the (i, j, code) claims it contradicts) of an Observation resource, or None
    when nothing is claimed, there is nothing to compare or every claim agrees. `parts` gives the memo of the
    resource's elements (fhir_scan), or None: derivations are kept there, once per distinct element."""
    concepts, vq, ranges = r.get("interpretation"), r.get("valueQuantity"), r.get("referenceRange")
    if not concepts or not isinstance(concepts, list) or not isinstance(vq, dict) or not ranges \
            or not isinstance(ranges, list):
        return None  # nothing claimed, or nothing to compare
    x = vq.get("value")
    if not isinstance(x, int | float) or isinstance(x, bool):
        return None
    memo = parts() or {}
    claims = _derived(memo.get("interpretation"), concepts, _claims, interpretation)
    if not claims:
        return None
    limits = _derived(memo.get("referenceRange"), ranges, _limits)
    vcode = vq.get("code")
    low = limits[0] if not (limits[1] and vcode and limits[1] != vcode) else None
    high = limits[2] if not (limits[3] and vcode and limits[3] != vcode) else None
    if low is None and high is None:
        return None
    expected = "L" if low is not None and x < low else "H" if high is not None and x > high else "N"
    wrong = [(i, j, code) for i, j, code in claims
             if (code in NORMAL and expected != "N") or (code in LOW and expected != "L")
             or (code in HIGH and expected != "H")]
    return (x, low, high, expected, wrong) if wrong else None


def _derived(part: Any, value: Any, derive: Callable[..., Any], *args: Any) -> Any:
    """derive(value, *args), kept on the element's memo finds (one derivation per distinct element)."""
    if part is None:
        return derive(value, *args)
    if part.derived is None:
        part.derived = derive(value, *args)
    return part.derived


def _claims(concepts: list[Any], interpretation: str) -> list[tuple[int, int, str]]:
    """(i, j, code) of the interpretation Codings that claim N, L or H (system v3 or none)."""
    claimed = NORMAL | LOW | HIGH
    return [(i, j, coding.get("code")) for i, concept in enumerate(concepts) if isinstance(concept, dict)
            for j, coding in enumerate(concept.get("coding", [])) if isinstance(coding, dict)
            and coding.get("system") in (interpretation, None) and coding.get("code") in claimed]


def _limits(ranges: list[Any]) -> tuple[float | None, Any, float | None, Any]:
    """The first reference range's low and high (numbers) with their unit codes."""
    rr = ranges[0] if isinstance(ranges[0], dict) else {}
    out: list[Any] = []
    for q in (rr.get("low"), rr.get("high")):
        ok = isinstance(q, dict) and isinstance(q.get("value"), int | float) and not isinstance(q.get("value"), bool)
        out += [float(q["value"]), q.get("code")] if ok else [None, None]
    return out[0], out[1], out[2], out[3]
