"""Which Observation.referenceRange gives LBORNRLO/HI, and in which unit (lab/read.py and lab/foreign.py).

LB holds the normal range (SDTMIG LBORNRLO/HI: "normal range"), so of several ranges the one typed `normal`
(referencerange-meaning) is taken, else one with no type; a range of another type (treatment, therapeutic...)
only when it is the only one, said in a note. Ranges not taken are said in a note too (never dropped silently).

A range whose limits carry a unit other than the value's is converted to the value's unit with the test's unit
factors of lab_tests.yaml (rounded to the significant digits the limit was written with, at least 2), else left empty
with a note: a range is never labelled with a unit it was not given in. A range LB cannot hold is left empty with a
note too: text only (not parsed), low and high in different units, limits beside a result that is no number.
Several normal (else untyped) ranges with different limits (e.g. by appliesTo sex / age) are a contest that
lab/population.py decides per Observation from its subject's sex and age (else left empty with a note naming why).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from msc_interop.fhir import terms
from msc_interop.fhir.common import number_back, text
from msc_interop.fhir.read_common import cdisc_unit, unitless_ucum
from msc_interop.fhir.systems import QUANTITIES, read_system
from msc_interop.lab_precision import kept_round

NOTE_KEY = "_range_note"  # an LB row's note about its range (foreign_lab sets it, read_observations says it)


@functools.cache
def _meaning_system() -> str:
    return terms.system("referencerange_meaning")


def _type_codes(rr: dict[str, Any], seen: Counter[str]) -> list[str]:
    typ = rr.get("type")
    codings = typ.get("coding") if isinstance(typ, dict) else None
    return [text(c.get("code")) for c in codings or ()
            if isinstance(c, dict) and read_system(c.get("system"), seen) == _meaning_system()]


def _type_shown(rr: dict[str, Any]) -> str:
    typ = rr.get("type") if isinstance(rr.get("type"), dict) else {}
    codes = [text(c.get("code")) for c in typ.get("coding") or () if isinstance(c, dict) and c.get("code")]
    return ", ".join(codes) or text(typ.get("text")) or "untyped"


def _limit(q: Any) -> Any:
    """The value of a range limit (None: no limit)."""
    return q.get("value") if isinstance(q, dict) else None


def limits_of(rr: dict[str, Any]) -> tuple:
    """What a range puts in LBORNRLO/HI: each limit's value and unit, and the text of a range without limits."""
    low, high = rr.get("low"), rr.get("high")
    unit = [(q.get("code"), q.get("unit")) if isinstance(q, dict) else (None, None) for q in (low, high)]
    if _limit(low) is None and _limit(high) is None:
        return None, None, None, None, text(rr.get("text")).strip()
    return _limit(low), unit[0], _limit(high), unit[1], None


def _other_units(low: tuple[Any, Any], high: tuple[Any, Any]) -> bool:
    """Whether a range's low and high carry different units: (code, unit text) each; codes compared when both have
    one, else the texts when neither has a code (a limit without a unit is in the other's)."""
    if low[0] and high[0]:
        return bool(low[0] != high[0])
    return not low[0] and not high[0] and bool(low[1]) and bool(high[1]) and low[1] != high[1]


def _population(rr: dict[str, Any]) -> str:
    """Whom a range is for, as its appliesTo and age say ("" when it says nothing)."""
    said = []
    for cc in rr.get("appliesTo") or ():
        if isinstance(cc, dict):
            said.append(text(cc.get("text")) or "/".join(text(c.get("display") or c.get("code"))
                                                          for c in cc.get("coding") or () if isinstance(c, dict)))
    age = rr.get("age")
    if isinstance(age, dict):
        said.append(f"age {text(_limit(age.get('low')))}-{text(_limit(age.get('high')))}")
    return ", ".join(s for s in said if s)


def pick(reference_range: Any, seen: Counter[str]) -> tuple[dict[str, Any], str | None, tuple | None]:
    """The range LB takes (an empty dict: none), a note (None: nothing to say) and, when several normal (else
    untyped) ranges with different limits compete, the contest lab/population.py decides per subject: (the note's
    head, the notes on the ranges of other types, and per competing range (the range, the range LB takes when it
    is chosen, its note)); else None. `seen`: the read's tallies (fhir/systems.py read_system)."""
    ranges = [r for r in reference_range or () if isinstance(r, dict)]
    if not ranges:
        return {}, None, None
    normal = [r for r in ranges if "normal" in _type_codes(r, seen)]
    untyped = [r for r in ranges if r.get("type") is None]
    tier = normal or untyped
    if not tier and len(ranges) > 1:
        return {}, (f"converted without LBORNRLO/LBORNRHI: no referenceRange of type normal or without a type "
                    f"(given: {', '.join(_type_shown(r) for r in ranges)})"), None
    chosen = (tier or ranges)[0]
    others = [_type_shown(r) for r in ranges if r not in tier and r is not chosen]
    notes = [f"converted without the referenceRange(s) of type {', '.join(others)}: LB holds the normal range"] \
        if others else []
    if len({limits_of(r) for r in tier}) > 1:  # ranges for different populations: the subject's (lab/population.py)
        kind = "normal" if normal else "untyped"
        populations = "; ".join(_population(r) or "no appliesTo or age" for r in tier)
        head = (f"converted without LBORNRLO/LBORNRHI: {len(tier)} {kind} referenceRanges with different limits "
                f"(for: {populations}); LB holds one range per record and which one is the subject's is not decided")
        contest = (head, tuple(notes), tuple((r, *_checked(r, bool(tier), notes)) for r in tier))
        return {}, "; ".join([f"{head} here", *notes]), contest
    return (*_checked(chosen, bool(tier), notes), None)


def _checked(chosen: dict[str, Any], normal: bool, notes: list[str]) -> tuple[dict[str, Any], str | None]:
    """The range LB takes of the range `chosen` (an empty dict: none) and its note, `notes` (on the other ranges)
    first. `normal`: chosen among the normal (else untyped) ranges; False: the only range, of another type."""
    low, low_unit, high, high_unit, range_text = limits_of(chosen)
    if low is None and high is None:
        if not range_text:
            return {}, "; ".join(notes) or None
        return {}, "; ".join([
            "converted without LBORNRLO/LBORNRHI: the referenceRange is text only (no low/high), and the text is not "
            "read: LBORNRLO/HI take a limit each, and LBSTNRC a character range in standard units for a "
            "character result, which free text (often a table of ranges by age and sex) is not known to be",
            *notes])
    if low is not None and high is not None and _other_units(low_unit, high_unit):
        return {}, "; ".join([f"converted without LBORNRLO/LBORNRHI: its low is in {text(low_unit[0] or low_unit[1])!r}"
                              f", its high in {text(high_unit[0] or high_unit[1])!r}: not one range", *notes])
    if not normal:
        notes = [*notes, f"converted with a referenceRange of type {_type_shown(chosen)} as LBORNRLO/LBORNRHI: the "
                 "only range given, not a normal one"]
    return chosen, "; ".join(notes) or None


def limit_unit(rr: dict[str, Any], seen: Counter[str]) -> tuple[Any, Any, Any] | None:
    """(system, code, unit) of the range's limits (the low one's, else the high one's; the system as read_system
    reads it); None when they carry none."""
    for q in (rr.get("low"), rr.get("high")):
        if isinstance(q, dict) and (q.get("code") or q.get("unit")):
            return read_system(q.get("system"), seen, QUANTITIES), q.get("code"), q.get("unit")
    return None


def joined(note: str | None, more: str | None) -> str | None:
    """A record's range notes as one line: the note on the ranges given (pick) and the one on its row (NOTE_KEY)."""
    return f"{note}; {more}" if note and more else note or more


def without_number(rec: Any, row: dict[str, Any], given: str) -> None:
    """The note of a result that is no number (`given`: the element it has instead) with a range with limits: the
    limits are not put in LBORNRLO/HI, which are in the result's original unit (LBORRESU), and it has none."""
    if rec.rr_low is not None or rec.rr_high is not None:
        row[NOTE_KEY] = (f"converted without LBORNRLO/LBORNRHI: the result is no number ({given}), so there is no "
                         "original unit (LBORRESU) for the range's low/high to be in")


def _significant(limit_text: str) -> int:
    digits = limit_text.lstrip("+-").replace(".", "").lstrip("0")
    return max(len(digits.split("e")[0].split("E")[0]), 2)


def in_value_unit(rec: Any, row: dict[str, Any], testcd: str | None, value_unit: str, conversion: Any,
                  decimals: int) -> bool:
    """Put the range of `rec` in the value's unit when its limits carry another one (True: the row's LBORNR/LBSTNR
    were set here). `conversion(testcd, unit)`: (factor to the standard unit, standard unit) or None; without one
    for the range's unit the range is left empty and the row gets a note."""
    if rec.rr_unit is None or (rec.rr_low is None and rec.rr_high is None):
        return False
    system, code, unit_text = rec.rr_unit
    if (code is not None and code == rec.qcode) or (code is None and unit_text == rec.qunit):
        return False  # written as the value's unit
    unit = cdisc_unit(system, code, unit_text)
    if unit == value_unit or (value_unit == "" and unitless_ucum(system, code)):
        return False
    shown = text(rec.rr_unit[1]) or text(rec.rr_unit[2])
    to_std = conversion(testcd, unit) if testcd is not None and unit is not None else None
    of_value = conversion(testcd, value_unit) if testcd is not None else None
    for name in ("LO", "HI"):
        row[f"LBORNR{name}"] = ""
        row[f"LBSTNR{name}"] = float("nan")
    if to_std is None or of_value is None:
        row[NOTE_KEY] = (f"converted without LBORNRLO/LBORNRHI: the range is in {shown!r}, the value in "
                         f"{value_unit!r}, and no unit factor of the test converts one to the other")
        return True
    for name, val, orig in (("LO", rec.rr_low, rec.rr_low_text), ("HI", rec.rr_high, rec.rr_high_text)):
        if val is None:
            continue
        std = float(val) * to_std[0]
        row[f"LBSTNR{name}"] = kept_round(std, decimals, text(orig) or repr(float(val)), to_std[0])
        limit = float(f"{std / of_value[0]:.{_significant(text(orig))}g}")
        row[f"LBORNR{name}"] = number_back(int(limit) if limit.is_integer() else limit)
    return True
