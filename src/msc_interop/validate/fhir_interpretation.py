"""MSC-FHIR-007's test of one Observation: which interpretation codes (N, L, H and their kin, system v3 or none)
the value and its reference range contradict. Shared by the rule (validate/fhir_rules.py) and the one-pass
check of NDJSON (validate/fhir_clean.py), so that both find the same.

The range is the one from-fhir takes for LBORNRLO/HI (fhir/resources/lab/ranges.py pick: the normal range, else an
untyped one, else the only one). Several normal (else untyped) ranges with different limits (e.g. by appliesTo sex)
are decided as from-fhir decides them (lab/population.py), from the subject's Patient.gender / birthDate when the
Patient is in the same input (`Patients`); else the interpretation is not judged (no range is known to be its).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from msc_interop.fhir.resources.lab import population
from msc_interop.fhir.resources.lab import ranges as lab_ranges
from msc_interop.fhir.resources.subjects import sex_of

LOW = {"L", "LL", "LU", "<"}
HIGH = {"H", "HH", "HU", ">"}
NORMAL = {"N"}

Wrong = tuple[float, "float | None", "float | None", str, list[tuple[int, int, str]]]
ANY = "any"  # interpretation_wrong's `patients` of the one-pass check: wrong against any competing range (maybe)


class Patients:
    """The sex and birth date of the input's Patients, to decide which of several ranges is an Observation's."""

    def __init__(self, patients: Iterable[tuple[Iterable[str], dict[str, Any]]]) -> None:
        """`patients`: (the references that name it: Patient/id, fullUrl; the Patient resource)."""
        self.subjects = population.Subjects(None, {})
        for keys, patient in patients:
            self.add(keys, patient)

    def add(self, keys: Iterable[str], patient: dict[str, Any]) -> None:
        """A Patient (its sex and birth date only), named by `keys`."""
        born = patient.get("birthDate")
        row = {"SEX": sex_of(patient.get("gender")), "BRTHDTC": born if isinstance(born, str) else ""}
        self.subjects.rows.update((key, row) for key in keys if key)  # type: ignore[union-attr]

    def limits(self, candidates: tuple[population.Candidate, ...], r: dict[str, Any]) -> tuple | None:
        """The limits (_limits) of the range that is the Observation's subject's; None: not known."""
        subject = r.get("subject")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(ref, str) or ref not in (self.subjects.rows or {}):
            return None
        period = r.get("effectivePeriod")
        when = r.get("effectiveDateTime") or r.get("effectiveInstant") or (
            period.get("start") if isinstance(period, dict) else None)
        taken = self.subjects.taken(candidates, ref, when[:10] if isinstance(when, str) else None)
        return taken.fields if taken is not None else None


def interpretation_wrong(r: dict[str, Any], interpretation: str, parts: Callable[[], dict[str, Any] | None],
                         patients: Patients | str | None = None) -> Wrong | None:
    """(value, low, high, expected, the (i, j, code) claims it contradicts) of an Observation resource, or None
    when nothing is claimed, there is nothing to compare or every claim agrees. `parts` gives the memo of the
    resource's elements (fhir_scan), or None: derivations are kept there, once per distinct element. `patients`:
    who the subject is when several ranges compete (None: not known, not judged; ANY: judged against each)."""
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
    one, candidates = _derived(memo.get("referenceRange"), ranges, _choice)
    if candidates is None:
        return _judged(x, one, vq.get("code"), claims) if one is not None else None
    if patients == ANY:
        return next((found for c in candidates if (found := _judged(x, c.fields, vq.get("code"), claims))), None)
    limits = patients.limits(candidates, r) if isinstance(patients, Patients) else None
    return _judged(x, limits, vq.get("code"), claims) if limits is not None else None


def _judged(x: float, limits: tuple, vcode: Any, claims: list[tuple[int, int, str]]) -> Wrong | None:
    """The claims the value and the range's limits (_limits) contradict, as interpretation_wrong gives them."""
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


def _choice(given: list[Any]) -> tuple[tuple | None, tuple | None]:
    """(the limits of the range from-fhir takes, None) or, when several compete, (None, their population.Candidate
    with the limits as their `fields`)."""
    seen: Counter[str] = Counter()  # (read_system's tallies: from-fhir's notes, not validate's)
    try:
        rr, _, contest = lab_ranges.pick(given, seen)
        if contest is None:
            return _limits(rr), None
        return None, tuple(population.candidate(r, lab_ranges.limits_of(r), _limits(taken), seen)
                           for r, taken, _ in contest[2])
    except TypeError:  # an unhashable limit (a code that is no text): the structure rules say it
        return None, None


def _limits(rr: dict[str, Any]) -> tuple[float | None, Any, float | None, Any]:
    """A reference range's low and high (numbers) with their unit codes (an empty dict: no range)."""
    out: list[Any] = []
    for q in (rr.get("low"), rr.get("high")):
        ok = isinstance(q, dict) and isinstance(q.get("value"), int | float) and not isinstance(q.get("value"), bool)
        out += [float(q["value"]), q.get("code")] if ok else [None, None]
    return out[0], out[1], out[2], out[3]
