"""The MethodDef texts of define.xml: how msc-interop derives each derived variable, in words a reviewer reads
beside the data (the builders in sdtm/ are what these texts describe).
"""

from __future__ import annotations

import re

from msc_interop import mappings


def _study_day_method(var: str) -> str:
    dtc = (var[:-4] + "STDTC" if var.endswith("STDY") else var[:-4] + "ENDTC" if var.endswith("ENDY")
           else var[:-2] + "DTC")
    return (f"Study day of {dtc} relative to DM.RFSTDTC (SDTMIG 3.4 section 4.4.4): date of {dtc} - date of "
            f"RFSTDTC + 1 when on or after RFSTDTC, date of {dtc} - date of RFSTDTC when before it (there is no "
            "day 0); null when either date is partial.")


_METHODS = {
    "USUBJID": "STUDYID, SITEID and SUBJID joined by hyphens (STUDYID-SITEID-SUBJID).",
    "RFXSTDTC": "Earliest EX.EXSTDTC of the subject (start of the first study treatment).",
    "RFXENDTC": "Latest EX.EXENDTC of the subject (EX.EXSTDTC where EXENDTC is missing).",
    "RFSTDTC": "Equal to RFXSTDTC: the first study treatment is the reference start, so protocol day 0 is "
               "study day 1.",
    "RFENDTC": "Equal to RFXENDTC (end of the last study treatment); the end of follow-up is RFPENDTC.",
    "DTHFL": "Y when DTHDTC is populated, otherwise null.",
    "AGE": "Age in completed years at RFSTDTC from a complete BRTHDTC (at RFICDTC, the date of informed "
           "consent, for a subject never dosed, e.g. a screen failure); the age collected on the CRF when the "
           "birth date is partial or missing.",
    "VISITNUM": "Visit number from the visit schedule of the study definition, matched by the collected visit "
                "name or one of its aliases. An unscheduled visit (collected visit name starting with "
                "'Unscheduled'; one visit per subject and date): the VISITNUM of the last planned visit the "
                "subject had on or before its date plus .01, .02, ... in date order (more decimal places when the "
                "next planned visit is nearer: after 1 before 1.1, 1.001, 1.002, ...; never negative).",
    "VISIT": "Visit name of VISITNUM in the visit schedule of the study definition; 'UNSCHEDULED' and the "
             "VISITNUM (e.g. UNSCHEDULED 3.01) for an unscheduled visit.",
    "EPOCH": "Epoch of the visit (VISITNUM) in the visit schedule of the study definition; for an unscheduled "
             "visit, from the record's date and time: before the first dose SCREENING, to the last dose day "
             "TREATMENT, then FOLLOW-UP; for a screen failure (DM.ARMNRS SCREEN FAILURE) without one, the epoch "
             "of the first planned visit when the record's complete date is on or after informed consent "
             "(DM.RFICDTC), else null.",
    "LBSTRESC": "LBORRES in the standard unit LBSTRESU: its number x the conversion factor for LBORRESU "
                "(msc-interop lab test table), converted values rounded to the test's decimals, written as the "
                "shortest text; a '<', '>', '<=' or '>=' prefix of LBORRES is kept.",
    "LBSTRESN": "Numeric value of LBSTRESC; null when the result has a '<' or '>' qualifier. The factor per test "
                "and original unit is in the value-level methods.",
    "LBSTRESU": "The standard unit of the test (msc-interop lab test table).",
    "LBSTNRLO": "LBORNRLO x the conversion factor used for LBSTRESN, rounded like LBSTRESN.",
    "LBSTNRHI": "LBORNRHI x the conversion factor used for LBSTRESN, rounded like LBSTRESN.",
    "LBNRIND": "LBSTRESN against LBSTNRLO/LBSTNRHI, limits inclusive: LOW below, HIGH above, NORMAL within; for "
               "'<x' or '>x' results only a certain indication (e.g. '<2' with range 0-37 is NORMAL), else null.",
    "LBLOBXFL": "Y on the last record per USUBJID and LBTESTCD with a non-missing result whose LBDTC is on or "
                "before the first dose (DM.RFXSTDTC); null otherwise.",
    "IDVARVAL": "Value, as text, of the variable named in IDVAR (the --SEQ) on the related parent record.",
}


def _epoch_by_date(dtc: str) -> str:
    """EPOCH of a dataset whose records are placed by their date (sdtm/common.epoch_by_date, sdtm/epochs.py)."""
    return (f"From {dtc}: SCREENING before the first dose (DM.RFXSTDTC), TREATMENT from it to the day of the last "
            f"dose (DM.RFXENDTC), FOLLOW-UP after that; null when {dtc} is partial; for a screen failure (DM.ARMNRS "
            f"SCREEN FAILURE), never dosed, the epoch of the first planned visit when {dtc} is complete and on or "
            "after informed consent (DM.RFICDTC), else null.")


_DATASET_METHODS = {(ds, "EPOCH"): _epoch_by_date(f"{ds}STDTC") for ds in ("AE", "CM", "DS")}


def method_text(ds: str, var: str, label: str) -> str:
    if (ds, var) in _DATASET_METHODS:
        return _DATASET_METHODS[(ds, var)]
    if var in _METHODS:
        return _METHODS[var]
    if var.endswith("SEQ") and len(var) == 5:
        meta = mappings.sdtm_domain(ds)  # the order every --SEQ numbering uses (builders, from-fhir)
        order = ", ".join(meta.seq_order) if meta is not None and meta.seq_order else "the record keys"
        return f"Sequence number of the record within USUBJID: 1, 2, ... in the order of {order}."
    if re.fullmatch(r"[A-Z]{2}(ST|EN)?DY", var):
        return _study_day_method(var)
    return f"{label}: derived by msc-interop from the collected data."


def lab_result_method(test: str, units: list[str]) -> str | None:
    """LBSTRESN for one LBTESTCD, naming the conversion factor of each original unit present (None: a test the
    lab table does not know)."""
    lab = mappings.lab_tests().get(test)
    if lab is None:
        return None
    factors = dict(lab.units)
    parts = [f"x {factors[u]:g} when LBORRESU is {u}" if u in factors else f"no conversion factor is known "
             f"for LBORRESU {u}" for u in units]
    by_spec = "".join(f" ({d} for LBSPEC {s})" for s, d in lab.specimen_decimals)
    rounding = (f"; converted values (factor other than 1) are rounded to {lab.decimals} decimal place(s){by_spec}, "
                "a non-zero value never to 0 (it keeps the decimals its LBORRES precision needs)"
                if any(factors.get(u, 1.0) != 1.0 for u in units) else "; values in the standard unit are kept "
                "as collected")
    return (f"LBSTRESN for {test} in {lab.standard_unit}: the number in LBORRES "
            f"{'; '.join(parts) or 'x the factor of its unit'}{rounding}; null when LBORRES has a '<' or '>' "
            "qualifier.")
