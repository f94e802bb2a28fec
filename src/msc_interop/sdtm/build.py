"""Study records -> Study: run the domain builders in dependency order and reconcile the counts.

Order matters: DM keys first (every form needs USUBJID), then EX (its first infusion defines RFSTDTC),
then DM reference dates and age, then everything that needs study days (EX --DY, AE, LB).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop.derived_without import settle_derivations
from msc_interop.distinct import column_codes, first_rows
from msc_interop.records.reader import ROW, RawRecords
from msc_interop.rejects import RejectReport
from msc_interop.sdtm.ae import build_ae
from msc_interop.sdtm.cm import build_cm
from msc_interop.sdtm.common import LEADING_ZEROS, zero_padded_matches
from msc_interop.sdtm.dm import SCREEN_FAILURE, build_dm_base, complete_dm
from msc_interop.sdtm.ds import build_ds
from msc_interop.sdtm.eg import build_eg
from msc_interop.sdtm.epochs import screen_failure_epochs
from msc_interop.sdtm.ex import add_study_days, build_ex
from msc_interop.sdtm.lb import build_lb
from msc_interop.sdtm.lost_records import find_lost
from msc_interop.sdtm.mh import build_mh
from msc_interop.sdtm.pr import build_pr_re
from msc_interop.sdtm.sv import build_sv
from msc_interop.sdtm.unscheduled import number_unscheduled
from msc_interop.sdtm.vs import build_vs
from msc_interop.sdtm.xpt_text import all_ascii
from msc_interop.study import Study, StudyMeta
from msc_interop.trial_arms import trial_design
from msc_interop.trial_design import build_ts, build_tv

# Forms carried in the Study but not yet mapped to an SDTM domain: none since issue 14 (findings.csv's ECG rows
# are EG's interpretation, its chest X-ray rows PR + RE); kept so that a new form can be read before it is mapped.
CARRIED_FORMS: tuple[str, ...] = ()


def build_study(records: RawRecords, settle: bool = True) -> tuple[Study, RejectReport]:
    """Map checked study records to SDTM DM, EX, AE, LB (+ SUPPEX); return the Study and the reject report.
    `settle` False: the records converted as collected though wrong stay in report.kept (a share of the subjects:
    the caller settles them once the shares are merged, RejectReport.settle_kept), instead of becoming its notes;
    so do the rejected records its subjects' derivations and SV would have read (derived_without.settle_derivations)."""
    meta = StudyMeta.from_definition(records.definition)
    design_note = trial_design(meta).note  # (TA/TE not derivable: said once, a partitioned run's notes merged)
    if design_note and design_note not in records.rejects.notes:
        records.rejects.notes.append(design_note)
    dm_base = build_dm_base(records, meta)
    _cascade_subjects(records, dm_base)
    ex, suppex = build_ex(records, meta, dm_base)
    dm = complete_dm(dm_base, ex)
    ex = add_study_days(ex, dm)
    ae = build_ae(records, dm)
    lb = build_lb(records, meta, dm)
    mh = build_mh(records, meta, dm)
    pr, re_, relrec = build_pr_re(records, meta, dm)

    datasets = {"DM": dm, "EX": ex, "AE": ae, "LB": lb, **study_level_datasets(meta, ex, dm)}
    datasets["VS"] = build_vs(records, meta, dm)
    datasets["EG"] = build_eg(records, meta, dm)
    datasets |= {"MH": mh, "PR": pr, "RE": re_, "RELREC": relrec}
    datasets.update(DS=build_ds(records, dm), CM=build_cm(records, dm))
    if len(suppex):
        datasets["SUPPEX"] = suppex
    datasets = number_unscheduled(datasets, meta, dm, records)  # the unplanned visits, from every form's planned ones
    datasets = screen_failure_epochs(datasets, meta, dm)  # before SV, which takes an unplanned visit's EPOCH
    datasets["SV"] = build_sv(datasets, meta, dm, records.rejects.visit_notes)  # last: from every dated record
    find_lost(records, meta, dm, datasets["SV"])  # the rejected records its derivations and SV were made without
    datasets = {k: v for k, v in datasets.items() if len(v.columns)}
    carried = {f: records.forms[f].drop(columns=ROW) for f in CARRIED_FORMS if f in records.forms}
    study = Study(meta, datasets, carried)
    study.text_origins = _text_origins(records)
    report = records.rejects
    report.carried.update(f for f in CARRIED_FORMS if f in records.forms)
    for form, read in records.read_counts.items():
        report.count(form, read, len(records.forms[form]))
    # (not a screen failure: never treated whatever its records say, so a rejected exposure of it, REJ-REC-015 or
    # another reason, changes no derivation about it)
    dosable = dm[dm["ARMNRS"].ne(SCREEN_FAILURE)]
    report.treated.update(zip(dosable["SUBJID"].tolist(), dosable["RFXSTDTC"].ne("").tolist(), strict=True))
    if settle:
        report.settle_kept()
        settle_derivations(report)
    return study, report


def study_level_datasets(meta: StudyMeta, ex: pd.DataFrame | None, dm: pd.DataFrame | None = None
                         ) -> dict[str, pd.DataFrame]:
    """The datasets about the study, not its subjects (TS names every treatment of the whole EX and the study start
    date of the whole DM, TV the schedule, TA/TE the arms and elements: trial_arms.py): a partitioned run builds them
    once from the whole (sdtm/partitioned.py)."""
    return {"TS": build_ts(meta, ex, dm), "TV": build_tv(meta), **trial_design(meta).datasets()}


def _cascade_subjects(records: RawRecords, dm: pd.DataFrame) -> None:
    """Rows of other forms whose subject is missing or was rejected are rejected too, with that reason."""
    for form in records.forms:
        if form == "subjects":
            continue
        df = records.forms[form]
        unknown = ~df["subject_id"].isin(dm["SUBJID"])
        if unknown.any():
            was_read = df["subject_id"].isin(records.subjects_read)
            source = records.files.get("subjects", "subjects.csv")
            source = source if source.endswith(".csv") else f"the subjects form of {source}"
            why = pd.Series(f"subject is not in {source}", index=df.index).where(
                ~was_read, f"the subject's row in {source} was rejected (see that reject)")
            hints = _leading_zero_hints(pd.unique(df.loc[unknown & ~was_read, "subject_id"]), records.subjects_read,
                                        source)
            if hints:
                why = why.mask(df["subject_id"].isin(list(hints)), df["subject_id"].map(hints))
            records.reject_rows(form, unknown, "subject_id", why, code="REJ-REC-008")


def _leading_zero_hints(values: np.ndarray, subjects: frozenset[str], source: str) -> dict[str, str]:
    """The reason of each of `values` (subject ids the subjects form lacks; distinct) that is a subject id of it
    but for leading zeros ('1' for '01', or '01' for its '1'), one dropped by a spreadsheet."""
    hints = {}
    for value, known in zero_padded_matches(values.tolist(), subjects, shorter_only=False).items():
        if len(known) > len(value):
            hints[value] = f"subject is not in {source}; did you mean '{known}'? {LEADING_ZEROS}"
        else:
            hints[value] = (f"subject is not in {source}, which has '{known}' (a spreadsheet drops leading zeros: "
                            f"keep the subject_id column of {source} as text)")
    return hints


def _text_origins(records: RawRecords) -> dict[str, tuple[str, int, str]]:
    """Each non-ASCII text value of the records -> (file, row, field) of its first occurrence."""
    out: dict[str, tuple[str, int, str]] = {}
    for form, df in records.forms.items():
        for col in df.columns:
            if col == ROW or pd.api.types.is_numeric_dtype(df[col]):
                continue
            codes, uniques = column_codes(df[col])  # each distinct value once, its first row from the codes
            distinct = np.asarray(uniques, dtype=object)
            if all_ascii(distinct):
                continue
            first = first_rows(codes, len(distinct))
            rows = df[ROW].to_numpy()
            for k, v in enumerate(distinct.tolist()):
                if isinstance(v, str) and not v.isascii():
                    out.setdefault(v, (records.files.get(form, form), int(rows[first[k]]), str(col)))
    return out
