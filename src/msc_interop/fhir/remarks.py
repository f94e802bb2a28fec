"""What from-fhir converts but must say, counted per SDTM domain and said once in the notes (finish_read):

- results whose Observation.status is not a final one (preliminary: "data may be incomplete or unverified";
  registered, unknown, none or no ObservationStatus code): converted, as SDTMIG LB / VS / EG have no variable for
  a result's status (--STAT is only NOT DONE), so a note counts them per status (mappings/fhir_mapping.yaml
  `observation_status_reading` says which statuses are results, which are rejected and what the others mean);
- date-times with hours but no UTC offset (FHIR dateTime: "If hours and minutes are specified, a time zone SHALL be
  populated"; validate: MSC-FHIR-010): their clock time is taken as written, that is as the study's time zone;
- LOINC codings whose display is the LOINC name of another code the mapping data holds (msc_interop/loinc_names.py;
  validate: MSC-FHIR-014): the code is converted as it is, and a warning asks to check in the source which of the
  two is right. A display the data does not hold (a LOINC SHORTNAME, an older long name, a lab's text) is not
  said: FHIR allows the first two, and msc-interop does not ship the LOINC table to tell them from a lab's text.

Observations (millions) are flagged once each while the files are read, in the flatteners (`observation_flags`:
a set look-up and a per-distinct-value cache, the display verdict once per distinct code element), and counted by
their readers when converted (`count_flags`), so that a rejected or skipped record is never said converted. The
other resources are looked at when their reader converts one (`count_resource`). Counts go to the read's tallies
and the first examples (by file and place: the same in every subject partition) to its `examples`, which the
partitions of a partitioned read add up (fhir/read_partitioned.py).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from msc_interop import loinc_names
from msc_interop.fhir import terms
from msc_interop.fhir.io import Located
from msc_interop.iso8601 import FHIR_DATETIME_READ

KEY = "remark\t"  # a tallies key: KEY + domain + "\t" + kind + ("\t" + detail ...)
STATUS, UNZONED, DISPLAY = "status", "no offset", "display"
EXAMPLES = 3  # resources named per remark
_NONE = "\x00none"  # the status of an Observation without one


@functools.cache
def _status_reading() -> dict[str, str]:
    return terms.reading_map("observation_status_reading")


def rejected_status(status: Any) -> bool:
    """An Observation status that says the Observation is no result (entered-in-error, cancelled)."""
    return type(status) is str and _status_reading().get(status) == "rejected"


@functools.cache
def _status_flag(status: Any) -> str | None:
    """The flag of a status converted with a note (None: a result status, or one that is rejected)."""
    said = _status_reading().get(status) if type(status) is str else None
    if said in ("result", "rejected"):
        return None
    return f"{STATUS}\t{status if type(status) is str else _NONE}"


def status_flag(status: Any) -> str | None:
    try:
        return _status_flag(status)
    except TypeError:  # not hashable (a list: malformed; its shape is reported elsewhere)
        return f"{STATUS}\t{_NONE}"


@functools.lru_cache(65536)
def _unzoned(value: str) -> bool:
    m = FHIR_DATETIME_READ.match(value)
    return m is not None and m["H"] is not None and m["tz"] is None


def unzoned(value: Any) -> bool:
    """A FHIR dateTime with a time of day and no UTC offset."""
    return type(value) is str and "T" in value and _unzoned(value)


_SHARED: dict[tuple[str, ...], tuple[str, ...]] = {}


def observation_flags(res: dict[str, Any], displays: tuple[str, ...], dates: tuple[Any, ...]) -> Any:
    """(Type/id, flags) of an Observation with something to say when converted (None: nothing): its status,
    `dates` (the values of its effective[x] read) without an offset, and `displays` (display flags of the codes of
    the records it makes, one per record: display_flags, worked out once per distinct code element). Per
    Observation: a set look-up and a cached test per date, nothing more when there is nothing to say."""
    status = res.get("status")
    flag = None if type(status) is str and status in _results() else status_flag(status)
    flags = ((flag,) if flag is not None else ()) + displays
    for d in dates:
        if type(d) is str and "T" in d and _unzoned(d):
            flags += (UNZONED,)
            break
    if not flags:
        return None
    flags = _SHARED.setdefault(flags, flags) if len(_SHARED) < 4096 else flags
    rid = res.get("id")
    return (f"Observation/{rid}" if type(rid) is str else None, flags)


@functools.cache
def _results() -> frozenset[str]:
    """The statuses of results converted without a word (final, amended, corrected)."""
    return frozenset(k for k, v in _status_reading().items() if v == "result")


def display_flags(codeable: Any) -> tuple[str, ...]:
    """The flags of a CodeableConcept's LOINC codings (loinc_names.is_loinc: LOINC's URI or a known variant of it,
    as validate judges them) whose display is the LOINC name of another code (loinc_names.wrong_display), each
    pair once."""
    if type(codeable) is not dict or type(codeable.get("coding")) is not list:
        return ()
    out: tuple[str, ...] = ()
    loinc, wrong = loinc_names.loinc_uris(), loinc_names.wrong_display  # coding_display_problem, inlined
    for c in codeable["coding"]:
        if type(c) is not dict:
            continue
        system, code, display = c.get("system"), c.get("code"), c.get("display")
        if type(system) is str and system in loinc and type(code) is str and type(display) is str and display \
                and wrong(code, display) is not None:
            flag = f"{DISPLAY}\t{code}\t{display.replace(chr(9), ' ')}"  # a tab would cut the tallies key
            if flag not in out:
                out += (flag,)
    return out


def count_flags(r: Any, domain: str, loc: Located, flagged: Any, n: int = 1) -> None:
    """`n` records of `domain` converted from the Observation at `loc`, flagged (observation_flags) or None: its
    status and dates count `n` records, a display flag one record each time it is given (the flatteners give it
    once per record made with that code: an ECG component's, not the other components' records)."""
    if flagged is None:
        return
    label, flags = flagged
    for flag in flags:
        _count(r, f"{KEY}{domain}\t{flag}", loc, label, 1 if flag.startswith(DISPLAY) else n)


def count_resource(r: Any, domain: str, loc: Located, res: dict[str, Any], *, observation: bool = False) -> None:
    """A record of `domain` converted from `res` (a resource the reader holds): its date-times without an offset
    (any top-level [x]DateTime, date, recordedDate or [x]Period start / end); for an Observation also its status
    and the displays of its code."""
    flags: tuple[str, ...] = ()
    if observation:
        flag = status_flag(res.get("status"))
        flags = ((flag,) if flag is not None else ()) + display_flags(res.get("code"))
    for key, value in res.items():
        if type(value) is str and (key.endswith("DateTime") or key in ("date", "recordedDate")):
            if unzoned(value):
                flags += (UNZONED,)
                break
        elif type(value) is dict and key.endswith("Period") and (unzoned(value.get("start"))
                                                                 or unzoned(value.get("end"))):
            flags += (UNZONED,)
            break
    if flags:
        rid = res.get("id")
        count_flags(r, domain, loc, (f"{res.get('resourceType')}/{rid}" if type(rid) is str else None, flags))


def _count(r: Any, key: str, loc: Located, label: str | None, n: int) -> None:
    r.tallies[key] += n
    add_examples(r.examples.setdefault(key, []), [(loc.file, int(loc.position), label or loc.label)])


def add_examples(into: list[tuple[str, int, str]], more: list[tuple[str, int, str]]) -> None:
    """The first EXAMPLES resources (by file and place, each once) of `into` and `more`, into `into`."""
    if len(into) >= EXAMPLES and more and min(more) > into[-1]:
        return
    into[:] = sorted(set(into) | set(more))[:EXAMPLES]


def _named(examples: list[tuple[str, int, str]]) -> str:
    """The resources of the examples: Type/id, else where they are (file and entry or line)."""
    return ", ".join(dict.fromkeys(x[2] for x in examples))


def notes(tallies: Counter[str], examples: dict[str, list[tuple[str, int, str]]], tz: str | None
          ) -> tuple[list[str], list[str]]:
    """(notes, warnings) of the remarks counted in a read."""
    by_kind: dict[str, list[tuple[str, list[str], int]]] = {}
    for key in sorted(k for k in tallies if k.startswith(KEY) and tallies[k]):
        domain, kind, *detail = key[len(KEY):].split("\t")
        by_kind.setdefault(kind, []).append((domain, detail, tallies[key]))
    out: list[str] = []
    for domain, detail, n in by_kind.get(STATUS, ()):
        out.append(_status_note(domain, detail[0], n, _named(examples.get(_key(domain, STATUS, *detail), []))))
    for domain, _, n in by_kind.get(UNZONED, ()):
        read = (f"read as the local time of {tz} (the study's time zone)" if tz else
                "kept as written (no time zone given: --timezone or --study)")
        out.append(f"{domain}: {n} record(s) have a date-time with hours but no UTC offset (FHIR dateTime: if hours "
                   "and minutes are given, a time zone SHALL be; validate reports MSC-FHIR-010): their clock times "
                   f"were {read}; if the source meant another zone, these times are wrong: "
                   f"{_named(examples.get(_key(domain, UNZONED), []))}")
    warnings: list[str] = []
    displays = by_kind.get(DISPLAY, ())
    if displays:
        note, warning = _display_note(displays, examples)
        out.append(note)
        warnings.append(warning)
    return out, warnings


def _key(domain: str, kind: str, *detail: str) -> str:
    return "\t".join((f"{KEY}{domain}", kind, *detail))


def _status_note(domain: str, status: str, n: int, named: str) -> str:
    if status == _NONE:
        what = "without a status (Observation.status is required)"
    elif status in _status_reading():
        what = f"with status {status} ({_status_reading()[status]})"
    else:
        what = f"with status {status!r} (not an ObservationStatus code)"
    return (f"{domain}: {n} record(s) from Observations {what} were converted as results: SDTMIG {domain} has no "
            f"variable for a result's status ({domain}STAT is only NOT DONE), so the dataset does not tell them "
            f"from final results: {named}")


def _display_note(displays: list[tuple[str, list[str], int]], examples: dict[str, list[tuple[str, int, str]]]
                  ) -> tuple[str, str]:
    pairs: dict[tuple[str, str], list[tuple[str, int, list[tuple[str, int, str]]]]] = {}
    for domain, (code, display), n in displays:
        pairs.setdefault((code, display), []).append((domain, n, examples.get(_key(domain, DISPLAY, code, display),
                                                                              [])))
    said = []
    for (code, display), found in sorted(pairs.items()):
        why = loinc_names.wrong_display(code, display) or ""
        merged: list[tuple[str, int, str]] = []
        for _, _, ex in found:
            add_examples(merged, ex)
        counts = ", ".join(f"{n} {domain}" for domain, n, _ in found)
        said.append(f"{code} '{display}' ({why}): {counts} ({_named(merged)})")
    total = sum(n for _, _, n in displays)
    shown = "; ".join(said[:10]) + (f"; and {len(said) - 10} more code/display pair(s)" if len(said) > 10 else "")
    note = (f"{total} record(s) have a LOINC coding whose display is the LOINC name of another code (validate "
            f"reports MSC-FHIR-014); each was converted as its code says: {shown}")
    listed = [f"{code} '{display}'" for code, display in sorted(pairs)]
    warning = (f"{len(listed)} LOINC code/display pair(s) whose display is another LOINC code's name were "
               f"converted as the code says ({', '.join(listed[:5])}{', ...' if len(listed) > 5 else ''}): check "
               "in the source which of the two is right (the notes name the records)")
    return note, warning
