"""SDTM records that cannot become FHIR resources as they are: rejected with their place, before anything is
written, so that nothing reaches FHIR changed and nothing is dropped unseen.

Study records are checked by their reader and builders; SDTM datasets (XPT, Dataset-JSON, CSV) come as they
are. Left alone, FHIR would get a date cut to what it can hold (LBDTC 2009-13-45 -> "2009"), a Patient made up
for a USUBJID that DM does not have, a Quantity with a unit nobody can read. Each such record goes to the
reject report (dataset, file, row as the SDTM readers count it: 1 = first record, field, value, reason, code),
with the records that hang on it (a subject's records when its DM record goes, SUPP-- records of a rejected
parent); the rest is written, and read = converted + rejected per dataset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.distinct import per_distinct
from msc_interop.errors import InputError
from msc_interop.fhir.context import WRITTEN_DOMAINS
from msc_interop.rejects import RejectReport
from msc_interop.study import Study

# The unit variables of the written domains: what the records path checks for labs and doses.
UNIT_VARIABLES = {"LB": ("LBORRESU", "LBSTRESU"), "EX": ("EXDOSU",), "VS": ("VSORRESU", "VSSTRESU")}


def admit_sdtm(study: Study, rejects: RejectReport) -> Study:
    """The study without the records FHIR cannot take as they are; each one (and what hangs on it) added to
    `rejects`, with read/converted counts for every dataset."""
    keep: dict[str, np.ndarray] = {}
    for name in (n for n in WRITTEN_DOMAINS if n in study.datasets):
        df = study[name]
        ok = np.ones(len(df), dtype=bool)
        for col in (c for c in df.columns if c.endswith("DTC") and df[c].dtype == object):
            hint = pd.Series(per_distinct(lambda u: pd.Series(dates.dtc_hints(u), dtype=object), df[col]),
                             index=df.index)
            bad = ok & hint.ne("").to_numpy()
            _reject(rejects, study, name, bad, col, col + " is not a valid ISO 8601 date" + hint +
                    ", so FHIR cannot hold it as it is: correct it in the dataset", "REJ-SDTM-002")
            ok &= ~bad
        for col in (c for c in UNIT_VARIABLES.get(name, ()) if c in df.columns):
            bad = ok & ~_known_unit(df[col]).to_numpy()
            _reject(rejects, study, name, bad, col, col + " is not a CDISC UNIT term or a spelling of one in "
                    "mappings/units.yaml, so no FHIR reader could use the quantity; correct it or add the unit "
                    "there", "REJ-SDTM-003")
            ok &= ~bad
        keep[name] = ok
    _subjects(study, rejects, keep)
    _supp(study, rejects, keep)
    for name, ok in keep.items():
        rejects.count(name, len(ok), int(ok.sum()))
    return study.keep_rows(keep)


def _known_unit(values: pd.Series) -> pd.Series:
    """True where the unit is empty, a CDISC UNIT term, or a spelling mappings/units.yaml knows."""
    terms = set(mappings.codelist("UNIT").values)

    def known(u: pd.Series) -> pd.Series:
        return u.eq("") | u.isin(terms) | mappings.normalize_unit(u).notna()

    return per_distinct(lambda u: known(u.astype(object)).astype(bool), values).astype(bool)


def _subjects(study: Study, rejects: RejectReport, keep: dict[str, np.ndarray]) -> None:
    """Records of a subject that DM does not have (or whose DM record was rejected) are rejected too."""
    subject_domains = [n for n in WRITTEN_DOMAINS if n != "DM" and n in study.datasets and len(study[n])]
    if "DM" not in study.datasets:
        if subject_domains:
            raise InputError(f"{', '.join(_file(study, n) for n in subject_domains)}: the input has no DM dataset; "
                             "FHIR Patients and ResearchSubjects come from DM: give DM with the other datasets")
        return
    dm = study["DM"]
    known, read = set(dm["USUBJID"][keep["DM"]]), set(dm["USUBJID"])
    for name in subject_domains:
        usubjid = study[name]["USUBJID"]
        for mask, why in ((~usubjid.isin(read), f"USUBJID is not a subject in DM ({_file(study, 'DM')})"),
                          (usubjid.isin(read) & ~usubjid.isin(known),
                           f"the subject's record in DM ({_file(study, 'DM')}) was rejected (see that reject)")):
            bad = keep[name] & mask.to_numpy()
            _reject(rejects, study, name, bad, "USUBJID", why, "REJ-SDTM-001")
            keep[name] &= ~bad


def _supp(study: Study, rejects: RejectReport, keep: dict[str, np.ndarray]) -> None:
    """SUPP-- records of a rejected parent record, or of a subject DM does not keep, go with them."""
    subjects = set(study["DM"]["USUBJID"][keep["DM"]]) if "DM" in keep else set()
    for name in (n for n in study.datasets if n.startswith("SUPP")):
        supp, rdomain = study[name], name[4:]
        if rdomain not in keep or not {"USUBJID", "IDVAR", "IDVARVAL"} <= set(supp.columns):
            continue
        gone = study[rdomain][~keep[rdomain]]
        bad = ~supp["USUBJID"].isin(subjects).to_numpy()
        idvar = supp["IDVAR"].astype(str)
        for var in (v for v in pd.unique(idvar[idvar.ne("")]) if v in gone.columns and len(gone)):
            pairs = set(zip(gone["USUBJID"], gone[var].map(_idvarval), strict=True))
            at = idvar.eq(var).to_numpy()
            bad[at] |= [(u, v) in pairs for u, v in zip(supp["USUBJID"][at], supp["IDVARVAL"][at], strict=True)]
        _reject(rejects, study, name, bad, "IDVARVAL", f"its parent record in {rdomain} (or its subject in DM) was "
                "rejected (see that reject)", "REJ-SDTM-004")
        keep[name] = ~bad


def _idvarval(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None or value is pd.NA else str(value)


def _file(study: Study, name: str) -> str:
    return study.sources.get(name, name)


def _reject(rejects: RejectReport, study: Study, name: str, bad: np.ndarray, col: str, reason: str | pd.Series,
            code: str) -> None:
    pos = np.flatnonzero(bad)
    if not len(pos):
        return
    df, file = study[name], _file(study, name)
    values = df[col].to_numpy(dtype=object)[pos]
    why = reason.to_numpy(dtype=object)[pos] if isinstance(reason, pd.Series) else [reason] * len(pos)
    line = 2 if file.lower().endswith((".csv", ".ndjson")) else 0  # the header / metadata is line 1
    for p, v, w in zip(pos.tolist(), values.tolist(), why, strict=True):
        where = f" (line {p + line})" if line else ""
        rejects.add(name, file, p + 1, col, v, f"{name} row {p + 1}{where}: {w}", code=code)
