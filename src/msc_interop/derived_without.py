"""Notes naming, per subject, the derivations made without its rejected records.

A rejected infusion is listed in the reject report, yet its subject is still converted: DM's reference dates come
from the subject's other infusions (or from none), and every study day, EPOCH and baseline flag moves with them,
silently. One note per subject names the rejected records (file and row) and what was derived without them, so
that the data manager fixes the record and converts again. The notes are made once the whole study is read
(RejectReport.unsourced and .treated merge from the halves of a load in two and from partitions), so each load
path gives the same notes. Only rejects that lose a record count: an exact duplicate (its first copy converted) is
not listed in unsourced, and a screen failure (never treated, whatever its exposures) is not in report.treated.
"""

from __future__ import annotations

from msc_interop.rejects import RejectReport

# form -> (what its records are, what a subject's derivations read from them). Only EX feeds a derivation about
# the subject in sdtm/dm.py (complete_dm: RFXSTDTC/RFXENDTC, RFSTDTC = RFXSTDTC, RFENDTC = RFXENDTC, AGE at
# RFSTDTC, ARMNRS) and, through them, the builders' --DY, EPOCH, --LOBXFL/--BLFL, CMENRF and the summary's TEAE.
# The disposition form feeds none (RFENDTC is the end of treatment; RFPENDTC is the subjects form's own date).
FEEDS: dict[str, tuple[str, str]] = {
    "exposures": ("exposure", "DM RFSTDTC, RFENDTC, RFXSTDTC, RFXENDTC and AGE, and the study days (--DY), EPOCH, "
                              "baseline flags (--LOBXFL/--BLFL), CMENRF and treatment-emergence (TEAE) of its records"),
}


def settle_derivations(report: RejectReport, most: int = 5) -> None:
    """One note per subject of DM (report.treated) with a rejected record of a form in FEEDS: its rows (the first
    `most` per file), and what was derived without them. A subject not in DM (its own record rejected) has no
    derivation to name: its records are rejected with that reason."""
    rows: dict[tuple[str, str], dict[str, set[int]]] = {}
    for u in report.unsourced:
        if u.subject in report.treated and u.form in FEEDS:
            rows.setdefault((u.subject, u.form), {}).setdefault(u.file, set()).add(u.row)
    for (subject, form), files in sorted(rows.items()):
        kind, derived = FEEDS[form]
        n = sum(len(r) for r in files.values())
        where = "; ".join(f"{file} {'line' if file.lower().endswith('.xml') else 'row'}(s) {_listed(sorted(r), most)}"
                          for file, r in sorted(files.items()))  # (an ODM record is named by its XML line)
        if report.treated[subject]:
            made = f"its {derived} were derived from its other {kind} record(s) only"
        else:
            made = (f"no {kind} record of it is left: it is ASSIGNED, NOT TREATED (ARMNRS), and its {derived} were "
                    "derived without any")
        report.notes.append(f"subject {subject}: {n} {kind} record(s) rejected ({where}), so {made}; fix the "
                            "record(s) and convert again")
    report.unsourced = []


def _listed(rows: list[int], most: int) -> str:
    return ", ".join(map(str, rows[:most])) + (f" and {len(rows) - most} more" if len(rows) > most else "")
