"""Notes naming, per subject, the derivations made without its rejected records.

A rejected infusion is listed in the reject report, yet its subject is still converted: DM's reference dates come
from the subject's other infusions (or from none), and every study day, EPOCH and baseline flag moves with them,
silently. A rejected lab, vital sign, ECG or findings record dated on or before the first dose (or whose date
cannot be read) may have been the baseline of its test: the flag moves to an earlier record, or to none. A
rejected record of a visit the subject has no other dated record of leaves the visit out of SV (an unscheduled
visit: one of that subject and date). One note per subject and form (per subject and visit for SV) names the
rejected records (file and row) and what was derived without them, so that the data manager fixes the record and
converts again; a file not read at all (REJ-REC-013) that looks like such a form gets one note about the study, as
no subject of it is known.

The rejected records are found by sdtm/lost_records.py once each share of the subjects is built, and the notes
made here once the whole study is read (RejectReport.unsourced, .unvisited and .treated merge from the halves of
a load in two and from partitions), so each load path gives the same notes. Only rejects that lose a record
count: an exact duplicate (its first copy converted) is not one, and a screen failure (never treated, whatever
its exposures) is not in report.treated, so its rejected records change no derivation named here.
"""

from __future__ import annotations

import math

from msc_interop.rejects import LostRows, RejectReport
from msc_interop.vital_signs import baseline_flag_name

EXPOSURES = "exposures"
UNREAD_CODE = "REJ-REC-013"


def feeds() -> dict[str, tuple[str, str]]:
    """Form -> (what its records are, what a subject's derivations read from them), in the order the notes follow.
    EX feeds sdtm/dm.py's complete_dm (RFXSTDTC/RFXENDTC, RFSTDTC = RFXSTDTC, RFENDTC = RFXENDTC, AGE at RFSTDTC,
    ARMNRS) and, through them, the builders' --DY, EPOCH, --LOBXFL/--BLFL, CMENRF and the summary's TEAE. The
    findings forms feed their domains' baseline flags (sdtm/common.last_before_first_dose): LB, VS, EG (ecg.csv and
    findings.csv's ECG rows) and RE (findings.csv's chest X-rays). The disposition form feeds none (RFENDTC is the
    end of treatment; RFPENDTC is the subjects form's own date)."""
    return {
        EXPOSURES: ("exposure", "DM RFSTDTC, RFENDTC, RFXSTDTC, RFXENDTC and AGE, and the study days (--DY), EPOCH, "
                                "baseline flags (--LOBXFL/--BLFL), CMENRF and treatment-emergence (TEAE) of its "
                                "records"),
        "labs": ("lab", "baseline flags (LBLOBXFL)"),
        "vital_signs": ("vital-sign", f"baseline flags ({baseline_flag_name()})"),
        "ecg": ("ECG", "baseline flags (EGLOBXFL)"),
        "findings": ("findings", "baseline flags (EGLOBXFL, RELOBXFL)"),
    }


def settle_derivations(report: RejectReport) -> None:
    """The notes of report.unsourced and .unvisited (then emptied): one per file not read that looks like a form
    of feeds(); one per subject of DM (report.treated) and form of feeds() with rejected records (the first LISTED
    rows per file), saying what was derived without them; one per subject and visit SV does not hold. A subject
    not in DM (its own record rejected) has no derivation to name: its records are rejected with that reason.
    SV's notes on a visit whose EPOCH was a choice (report.visit_notes, sdtm/sv.py) join them in the same order
    (subject, then visit), so each load path gives them alike."""
    forms = feeds()
    order = {form: i for i, form in enumerate(forms)}
    unread: dict[tuple[str, str], None] = {}
    rows: dict[tuple[str, str], dict[str, LostRows]] = {}
    for (subject, form, file), lost in report.unsourced.items():
        if form not in forms:
            continue
        if not subject:
            unread[(file, form)] = None
        elif subject in report.treated and (form == EXPOSURES or report.treated[subject]):
            rows.setdefault((subject, form), {})[file] = lost  # (a finding needs a first dose to be a baseline)
    notes: list[tuple[str, int, float, str]] = []
    for (subject, form), files in rows.items():
        kind, derived = forms[form]
        where, n = _where(files)
        if form != EXPOSURES:
            made = (f"its {derived} were derived from its other {kind} record(s) only: the rejected one(s) are dated "
                    "on or before its first dose (RFXSTDTC) or their date cannot be read, so a test's flag may now be "
                    "on another record, or on none")
        elif report.treated[subject]:
            made = f"its {derived} were derived from its other {kind} record(s) only"
        else:
            made = (f"no {kind} record of it is left: it is ASSIGNED, NOT TREATED (ARMNRS), and its {derived} were "
                    "derived without any")
        notes.append((subject, order[form], 0.0, f"subject {subject}: {n} {kind} record(s) rejected ({where}), so "
                                                 f"{made}; fix the record(s) and convert again"))
    visits: dict[tuple[str, float | None, str], dict[str, LostRows]] = {}
    for (subject, visitnum, visit, file), lost in report.unvisited.items():
        visits.setdefault((subject, visitnum, visit), {})[file] = lost
    for (subject, visitnum, visit), files in visits.items():
        where, _n = _where(files)
        # an unscheduled visit (no VISITNUM, named by its date) after the subject's planned ones, in date order
        which = f"visit {visit} (VISITNUM {visitnum:g})" if visitnum is not None else f"unscheduled visit on {visit}"
        notes.append((subject, len(order), math.inf if visitnum is None else visitnum,
                      f"subject {subject}: SV holds no {which}, yet record(s) of it were rejected ({where}), so SV "
                      "was built without them; fix the record(s) and convert again"))
    notes += [(subject, len(order), visitnum, text) for (subject, visitnum), text in report.visit_notes.items()]
    for file, form in sorted(unread):
        kind, derived = forms[form]
        report.notes.append(f"{file}: not read ({UNREAD_CODE}; it looks like the '{form}' form), so if it holds "
                            f"{kind} records, every subject's {derived} were derived without them: see its reject")
    report.notes += [text for *_key, text in sorted(notes)]
    report.unsourced, report.unvisited, report.visit_notes = {}, {}, {}


def _where(files: dict[str, LostRows]) -> tuple[str, int]:
    """The files and rows of `files` ("exposures.csv row(s) 2, 3; export.xml line(s) 120": an ODM record is named
    by its XML line), the first LISTED of each file, and how many records they are."""
    where = "; ".join(f"{file} {'line' if file.lower().endswith('.xml') else 'row'}(s) {_listed(lost)}"
                      for file, lost in sorted(files.items()))
    return where, sum(lost.count for lost in files.values())


def _listed(lost: LostRows) -> str:
    more = lost.count - len(lost.first)
    return ", ".join(map(str, lost.first)) + (f" and {more} more" if more > 0 else "")
