"""Code forms validate checks without a terminology server: LOINC check digits, UCUM syntax, FHIR date forms.
(Code system URIs that are not the canonical one: msc_interop/code_systems.py, shared with from-fhir.)

LOINC (Users' Guide, "the LOINC code and its check digit"): the part before the hyphen is a number whose
mod-10 check digit follows the hyphen: from the right, double every other digit starting with the last one,
add the digits of the products and the digits left alone, and the check digit brings the sum to a multiple
of 10 (6690-2, 1742-6, 1834-1).

UCUM (The Unified Code for Units of Measure, section 2, syntax rules): a term is components joined by '.'
(multiplication) and '/' (division), optionally led by '/'; a component is a unit atom with an optional
prefix and exponent, a number (factor), an {annotation} or a parenthesised term. Only the syntax is checked
here: whether an atom such as 'cells' is a UCUM unit needs the UCUM atom table, which is not shipped.
"""

from __future__ import annotations

import calendar
import re

from msc_interop import iso8601

_LOINC = re.compile(r"^(\d{1,7})-(\d)$")
_LOINC_PART = re.compile(r"^L[APGL]\d{1,8}-\d$")  # answer (LA), part (LP), group (LG), answer list (LL) codes


def loinc_check_digit(number: str) -> int:
    """The mod-10 check digit of the numeric part of a LOINC code: loinc_check_digit("6690") == 2."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 0:  # the rightmost digit and every other one are doubled
            d *= 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10


def loinc_problem(code: str) -> str:
    """"" when `code` is a well-formed LOINC code with a correct check digit, else the reason."""
    if _LOINC_PART.match(code):
        return ""
    m = _LOINC.match(code)
    if not m:
        return "a LOINC code is digits, a hyphen and one check digit (e.g. 6690-2)"
    number, check = m.groups()
    expected = loinc_check_digit(number)
    if int(check) != expected:
        return f"the check digit of {number} is {expected}, not {check} (did you mean {number}-{expected}?)"
    return ""


# --- UCUM syntax ------------------------------------------------------------------------------------------

_ATOM_CHARS = r"A-Za-z%'_:;<=>?@|~`!#$&,"
_SIMPLE = re.compile(rf"(?:\[[\x21-\x5c\x5e-\x7e]+\]|[{_ATOM_CHARS}])+")
_EXPONENT = re.compile(r"[+-]?\d+")
_TEN_POWER = re.compile(r"10[*^]")


class UcumSyntaxError(ValueError):
    pass


class _Parser:
    def __init__(self, text: str):
        self.s = text
        self.i = 0

    def fail(self, why: str) -> UcumSyntaxError:
        return UcumSyntaxError(f"{why} at position {self.i + 1}")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def main(self) -> None:
        if not self.s:
            raise UcumSyntaxError("empty unit")
        bad = next((c for c in self.s if not 33 <= ord(c) <= 126), None)
        if bad is not None:
            where = self.s.index(bad)
            raise UcumSyntaxError(f"character {bad!r} at position {where + 1} is not allowed "
                                  "(UCUM uses printable ASCII only, no spaces; micro is 'u')")
        if self.peek() == "/":
            self.i += 1
        self.term()
        if self.i != len(self.s):
            raise self.fail(f"unexpected {self.peek()!r}")

    def term(self) -> None:
        self.component()
        while self.peek() in (".", "/"):
            self.i += 1
            self.component()

    def component(self) -> None:
        c = self.peek()
        if c == "":
            raise self.fail("a unit is missing")
        if c == "(":
            self.i += 1
            self.term()
            if self.peek() != ")":
                raise self.fail("')' expected")
            self.i += 1
            return
        if c == "{":
            self.annotation()
            return
        m = _TEN_POWER.match(self.s, self.i)
        if m:
            self.i = m.end()
            self.exponent(required=True)
            self.optional_annotation()
            return
        if c.isdigit():
            while self.peek().isdigit():
                self.i += 1
            self.optional_annotation()
            return
        m = _SIMPLE.match(self.s, self.i)
        if not m:
            raise self.fail(f"{c!r} cannot start a unit")
        self.i = m.end()
        self.exponent(required=False)
        self.optional_annotation()

    def exponent(self, required: bool) -> None:
        m = _EXPONENT.match(self.s, self.i)
        if m:
            self.i = m.end()
        elif required:
            raise self.fail("an exponent is needed after 10* or 10^")

    def optional_annotation(self) -> None:
        if self.peek() == "{":
            self.annotation()

    def annotation(self) -> None:
        end = self.s.find("}", self.i + 1)
        if end < 0:
            raise self.fail("'}' missing")
        if "{" in self.s[self.i + 1:end]:
            raise self.fail("'{' inside an annotation")
        self.i = end + 1


def ucum_problem(code: str) -> str:
    """"" when `code` parses as a UCUM expression, else why not: ucum_problem("10*9/L") == ""."""
    try:
        _Parser(code).main()
    except UcumSyntaxError as exc:
        return str(exc)
    return ""


# --- FHIR date forms (R4/R5 datatypes) ---------------------------------------------------------------------



def fhir_date_problem(value: str, kind: str) -> str:
    """"" when `value` is a valid FHIR `kind` (date, dateTime or instant), else the reason."""
    if not isinstance(value, str):
        return f"a {kind} is a JSON string"
    m = iso8601.FHIR_DATE.match(value)
    if m and kind != "instant":
        return _calendar(m.group(1), m.group(2), m.group(3))
    if kind == "date":
        if "T" in value:
            return "a date has no time part"
        return _shape_hint(value) or "a date is YYYY, YYYY-MM or YYYY-MM-DD"
    m = iso8601.FHIR_DATETIME.match(value)
    if m:
        y, mo, d, hh, mi, ss, _frac, tz = m.groups()
        if int(hh) > 23 or int(mi) > 59 or int(ss) > 60:
            return "the time is not a clock time"
        if tz != "Z" and (int(tz[1:3]) > 14 or int(tz[4:6]) > 59):
            return "the time-zone offset is out of range"
        return _calendar(y, mo, d)
    if kind == "instant":
        return _shape_hint(value) or "an instant is YYYY-MM-DDThh:mm:ss with a time-zone offset (Z or +hh:mm)"
    return _shape_hint(value) or ("a dateTime is YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a "
                                  "time-zone offset")


def _shape_hint(value: str) -> str:
    if "/" in value:
        return "an interval is not a dateTime (use a Period with start and end)"
    if "--" in value:
        return "a missing month or day ('2003---15') is not allowed in FHIR; give the known precision only"
    if re.fullmatch(iso8601.TIME_WITHOUT_SECONDS_OR_OFFSET, value):
        return "once a time is given it needs seconds and a time-zone offset (e.g. 2009-03-28T09:52:00+08:00)"
    if re.fullmatch(iso8601.TIME_WITHOUT_SECONDS, value):
        return "once a time is given it needs seconds (hh:mm:ss)"
    if re.fullmatch(iso8601.BASIC_FORMAT_ANY, value):
        return "the ISO 8601 basic format is not allowed (write YYYY-MM-DD)"
    if " " in value:
        return "no spaces; date and time are joined by T"
    return ""


def _calendar(y: str, mo: str | None, d: str | None) -> str:
    if mo is None:
        return ""
    if not 1 <= int(mo) <= 12:
        return f"month {mo} does not exist"
    if d is not None and not 1 <= int(d) <= calendar.monthrange(int(y), int(mo))[1]:
        return f"{y}-{mo}-{d} is not a calendar date"
    return ""
