"""Of several normal (else untyped) referenceRanges with different limits, the one for the Observation's subject
(lab/ranges.py pick makes the contest once per distinct referenceRange; lab/read.py decides it per Observation,
only for the Observations that have one: the common one-range case does no work here).

A range is for the subject when its `appliesTo` sex (fhir_mapping.yaml `range_applies_to_sex`: SNOMED CT Male /
Female of HL7's referencerange-appliesto value set, AdministrativeGender male / female) is the subject's DM SEX (M /
F, from Patient.gender) and the subject's age at the Observation's date (LBDTC) is within its `age` (low and high
inclusive, FHIR R4/R5 Observation.referenceRange.age; in completed UCUM a / mo / wk / d, `age_units`). The age comes
from DM BRTHDTC (Patient.birthDate), else from DM AGE / AGEU at RFSTDTC; partial dates give an interval of ages,
which must be wholly within or wholly outside a range's ages to decide it. A range with another appliesTo (v3-Race,
pregnancy, a text), an age limit that is no whole number of those units, or a sex / age the subject's is not known
for is undecided: it is not excluded, so it keeps the Observation undecided unless it has the other ranges' limits.

The ranges not excluded must be one range (one, or several with the same limits) to be taken; else the record is
converted without LBORNRLO/HI and its note says why (none is the subject's, several are, or what is not known).
"""

from __future__ import annotations

import calendar
import functools
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from msc_interop.fhir import terms
from msc_interop.fhir.common import text
from msc_interop.fhir.systems import QUANTITIES, read_system
from msc_interop.iso8601 import SDTM_DTC_PARTS

CHOSEN = "Observation range by subject"  # ReadContext.tallies key: Observations given the subject's range


@dataclass(frozen=True)
class Candidate:
    """A competing range: the sex (M / F) of its appliesTo (None: none said), its ages ((value, UCUM unit) of low
    and high, each None when absent; None: no age), why its population cannot be read (None: it can), its limits
    (equal limits: one range) and the flat record's range fields when it is taken (rr_low ... rr_note)."""

    sex: str | None
    ages: tuple | None
    unread: str | None
    limits: tuple
    fields: tuple


@functools.cache
def _sexes() -> dict[tuple[str, str], str]:
    """(code system URI, code) -> CDISC SEX of the appliesTo codings that say a sex."""
    out = {}
    for key, sex in terms.reading_map("range_applies_to_sex").items():
        system, code = key.split("|", 1)
        out[(terms.system(system), code)] = sex
    return out


@functools.cache
def _units() -> dict[str, str]:
    """UCUM age unit -> DM AGEU term."""
    return terms.reading_map("age_units")


def candidate(rr: dict[str, Any], limits: tuple, fields: tuple, seen: Counter[str]) -> Candidate:
    """The Candidate of range `rr` (`fields`: what LB takes of it when it is chosen)."""
    sexes, unread, said = _sexes(), [], set()
    for cc in rr.get("appliesTo") or ():
        codings = cc.get("coding") if isinstance(cc, dict) else None
        found = {sexes.get((read_system(c.get("system"), seen), text(c.get("code")))) for c in codings or ()
                 if isinstance(c, dict)} - {None}
        if len(found) == 1:
            said |= found
        else:
            shown = text(cc.get("text")) if isinstance(cc, dict) else ""
            unread.append(f"appliesTo {shown or '/'.join(text(c.get('code')) for c in codings or ())!r} is no sex")
    if len(said) > 1:
        unread.append("appliesTo says both sexes")
    ages = None
    age = rr.get("age")
    if isinstance(age, dict) and (age.get("low") is not None or age.get("high") is not None):
        ages = tuple(_age_limit(age.get(end), seen) for end in ("low", "high"))
        if any(a is False for a in ages):
            unread.append("its age limits are not whole numbers of UCUM a, mo, wk or d")
    return Candidate(next(iter(said)) if len(said) == 1 else None, ages, "; ".join(unread) or None, limits, fields)


def _age_limit(q: Any, seen: Counter[str]) -> tuple[int, str] | bool | None:
    """(whole number, UCUM unit) of an age limit; None: no limit; False: one that cannot be read."""
    if q is None or (isinstance(q, dict) and q.get("value") is None):
        return None
    if not isinstance(q, dict) or q.get("comparator") is not None:
        return False
    value, code = q["value"], q.get("code")
    system = read_system(q.get("system"), seen, QUANTITIES) if q.get("system") is not None else None
    if system not in (None, terms.system("ucum")) or code not in _units() or isinstance(value, bool) \
            or not isinstance(value, (int, float)) or value != int(value):
        return False
    return int(value), code


def _interval(dtc: Any) -> tuple[date, date] | None:
    """The first and last day an SDTM --DTC (partial ones too) may be; None: no year, or not a --DTC."""
    m = SDTM_DTC_PARTS.match(text(dtc))
    if not m:
        return None
    y = int(m.group(1))
    try:
        if m.group(2) in (None, "-"):
            return date(y, 1, 1), date(y, 12, 31)
        mo = int(m.group(2))
        if m.group(3) in (None, "-"):
            return date(y, mo, 1), date(y, mo, calendar.monthrange(y, mo)[1])
        day = date(y, mo, int(m.group(3)))
    except ValueError:
        return None
    return day, day


def _completed(born: date, on: date, unit: str) -> int:
    """The whole UCUM units (a, mo, wk, d) from `born` to `on` (a birthday counts on its day)."""
    if unit in ("d", "wk"):
        days = (on - born).days
        return days if unit == "d" else days // 7
    months = (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)
    return months if unit == "mo" else months // 12


def _back(on: date, n: int, unit: str) -> date:
    """`on` less n UCUM units (a month's last day where the day is not in it)."""
    if unit in ("d", "wk"):
        return on - timedelta(days=n * (7 if unit == "wk" else 1))
    months = on.year * 12 + on.month - 1 - n * (12 if unit == "a" else 1)
    y, mo = divmod(months, 12)
    return date(y, mo + 1, min(on.day, calendar.monthrange(y, mo + 1)[1]))


class Subjects:
    """The sex and birth-date interval of each subject, from DM (made once per subject, only when asked)."""

    def __init__(self, dm: pd.DataFrame | None, rows: dict[str, dict[str, Any]] | None = None) -> None:
        self.dm = dm  # `rows`: instead of DM, USUBJID -> its SEX, BRTHDTC... (validate: from Patient resources)
        self.rows: dict[str, dict[str, Any]] | None = rows
        self.known: dict[str, tuple[str, tuple[date, date] | None, str]] = {}

    def facts(self, usubjid: str) -> tuple[str, tuple[date, date] | None, str]:
        """(DM SEX when M or F else "", the interval the birth date is in (None: not known), where it is from)."""
        if usubjid in self.known:
            return self.known[usubjid]
        if self.rows is None:
            cols = [c for c in ("USUBJID", "SEX", "BRTHDTC", "AGE", "AGEU", "RFSTDTC")
                    if self.dm is not None and c in self.dm.columns]
            self.rows = {} if "USUBJID" not in cols else {
                str(r["USUBJID"]): r for r in self.dm[cols].to_dict("records")}  # type: ignore[index]
        row = self.rows.get(usubjid, {})
        sex = text(row.get("SEX"))
        birth, whence = _interval(row.get("BRTHDTC")), "BRTHDTC"
        if birth is None:
            birth, whence = _from_age(row), "AGE at RFSTDTC"
        self.known[usubjid] = found = (sex if sex in ("M", "F") else "", birth, whence)
        return found

    def choose(self, rec: Any, usubjid: str, dtc: Any) -> Any:
        """`rec` (a flat record with rr_choices) with the range fields of the subject's range (and rr_choices CHOSEN:
        counted when the record is converted), else its note saying why none is taken."""
        head, notes, candidates = rec.rr_choices
        left = self._left(candidates, usubjid, dtc)
        if left and len({c.limits for c, _ in left}) == 1:
            return rec._replace(rr_choices=CHOSEN, **dict(zip(_FIELDS, left[0][0].fields, strict=True)))
        sex, birth, whence = self.facts(usubjid)
        on = _interval(dtc)
        subject = f"sex {sex or 'not known (DM SEX neither M nor F)'}, age {_age_shown(birth, on, whence, dtc)}"
        if not left:
            why = f"none is for the subject ({subject})"
        else:
            unsure = sorted({v for _, v in left if isinstance(v, str)})
            sure = sum(v is True for _, v in left)
            why = (f"{sure} of them are for the subject ({subject})" if not unsure else
                   f"{len(left)} of them may be for the subject ({subject}): {'; '.join(unsure)}")
        return rec._replace(rr_note="; ".join([f"{head}: {why}", *notes]))


    def taken(self, candidates: tuple[Candidate, ...], usubjid: str, dtc: Any) -> Candidate | None:
        """The subject's range of the competing `candidates` at `dtc` (as `choose` decides it); None: undecided."""
        left = self._left(candidates, usubjid, dtc)
        return left[0][0] if left and len({c.limits for c, _ in left}) == 1 else None

    def _left(self, candidates: tuple[Candidate, ...], usubjid: str, dtc: Any) -> list[tuple[Candidate, Any]]:
        """The candidates not excluded for the subject at `dtc`, with their verdicts (_verdict)."""
        sex, birth, _ = self.facts(usubjid)
        on = _interval(dtc)
        verdicts = [_verdict(c, sex, birth, on) for c in candidates]
        return [(c, v) for c, v in zip(candidates, verdicts, strict=True) if v is not False]


_FIELDS = ("rr_low", "rr_high", "rr_low_text", "rr_high_text", "rr_unit", "rr_note")


def _from_age(row: dict[str, Any]) -> tuple[date, date] | None:
    """The birth-date interval DM AGE (whole AGEU units at RFSTDTC) gives; None without the three."""
    unit = {v: k for k, v in _units().items()}.get(text(row.get("AGEU")).upper())
    start = _interval(row.get("RFSTDTC"))
    try:
        age = float(row.get("AGE"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if unit is None or start is None or age != age or age < 0 or age != int(age):
        return None
    return _back(start[0], int(age) + 1, unit) + timedelta(days=1), _back(start[1], int(age), unit)


def _verdict(c: Candidate, sex: str, birth: tuple[date, date] | None, on: tuple[date, date] | None) -> bool | str:
    """True: the range is for the subject; False: it is not; a text: why that is not known."""
    if c.sex is not None and sex and c.sex != sex:
        return False
    unknown = []
    if c.sex is not None and not sex:
        unknown.append("the subject's sex is not known")
    if c.ages is not None and all(a is not False for a in c.ages):
        if birth is None or on is None:
            unknown.append("the subject's age at the Observation's date is not known (no BRTHDTC, else AGE, AGEU "
                           "and RFSTDTC; or no LBDTC)")
        else:
            within = _within(c.ages, birth, on)
            if within is False:
                return False
            if within is None:
                unknown.append("the subject's age at the Observation's date is not known to the unit of its ages")
    if c.unread is not None:
        unknown.append(c.unread)
    return "; ".join(unknown) if unknown else True


def _within(ages: tuple, birth: tuple[date, date], on: tuple[date, date]) -> bool | None:
    """Whether every age the subject may have on the date is within the limits (True), none is (False), or some
    are (None). Limits inclusive, in completed units."""
    verdict = True
    for end, limit in zip(("low", "high"), ages, strict=True):
        if limit is None:
            continue
        value, unit = limit
        youngest, oldest = _completed(birth[1], on[0], unit), _completed(birth[0], on[1], unit)
        if (end == "low" and oldest < value) or (end == "high" and youngest > value):
            return False
        if (end == "low" and youngest < value) or (end == "high" and oldest > value):
            verdict = None  # type: ignore[assignment]
    return verdict


def _age_shown(birth: tuple[date, date] | None, on: tuple[date, date] | None, whence: str, dtc: Any) -> str:
    """The subject's age in years at the date, as the note says it."""
    if birth is None:
        return "not known"
    if on is None:
        return "not known (no LBDTC)"
    low, high = _completed(birth[1], on[0], "a"), _completed(birth[0], on[1], "a")
    return f"{low if low == high else f'{low}-{high}'} a at {text(dtc)} (from DM {whence})"


def range_note(tallies: Counter[str]) -> list[str]:
    """The read's note on the Observations given the range of their subject's sex / age (fhir/read.py)."""
    n = tallies[CHOSEN]
    if not n:
        return []
    return [f"{n} Observation(s) have several normal (else untyped) referenceRanges with different limits for "
            "different populations: LBORNRLO/HI are from the one for the subject's sex (DM SEX, from Patient.gender; "
            "appliesTo SNOMED CT / AdministrativeGender male, female) and age at LBDTC (from DM BRTHDTC, else AGE at "
            "RFSTDTC; referenceRange.age, limits inclusive)"]
