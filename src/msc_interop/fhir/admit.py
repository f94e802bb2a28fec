"""SDTM records that cannot become FHIR resources as they are: rejected with their place, before anything is
written, so that nothing reaches FHIR changed and nothing is dropped unseen.

Study records are checked by their reader and builders; SDTM datasets (XPT, Dataset-JSON, CSV) come as they
are. Left alone, FHIR would get a date cut to what it can hold (LBDTC 2009-13-45 -> "2009"), a Patient made up
for a USUBJID that DM does not have, a Quantity with a unit nobody can read. Each such record goes to the
reject report (dataset, file, row as the SDTM readers count it: 1 = first record, field, value, reason, code),
with the records that hang on it (a subject's records when its DM record goes, SUPP-- records of a rejected
parent); the rest is written, and read = converted + rejected per dataset. SV and DS, placed on Encounters and
ResearchSubjects rather than resources of their own, are admitted the same way: a visit or a disposition of a
subject DM does not have would have no ResearchSubject to ride on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import dates, mappings
from msc_interop.distinct import per_distinct, row_codes
from msc_interop.errors import InputError
from msc_interop.fhir import ids
from msc_interop.fhir.common import float_text, texts
from msc_interop.fhir.context import CARRIED_ON_SUBJECT, WRITTEN_DOMAINS, studyid_of
from msc_interop.rejects import RejectReport
from msc_interop.study import Study
from msc_interop.validate.registry import get_rule

# The unit variables of the written domains: what the records path checks for labs and doses.
UNIT_VARIABLES = {"LB": ("LBORRESU", "LBSTRESU"), "EX": ("EXDOSU",), "VS": ("VSORRESU", "VSSTRESU")}


def admit_sdtm(study: Study, rejects: RejectReport) -> Study:
    """The study without the records FHIR cannot take as they are; each one (and what hangs on it) added to
    `rejects`, with read/converted counts for every dataset."""
    keep: dict[str, np.ndarray] = {}
    for name in (n for n in WRITTEN_DOMAINS + CARRIED_ON_SUBJECT if n in study.datasets):
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
    _one_per_key(study, rejects, keep)
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
    subject_domains = [n for n in WRITTEN_DOMAINS + CARRIED_ON_SUBJECT
                       if n != "DM" and n in study.datasets and len(study[n]) and "USUBJID" in study[n].columns]
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
        if rdomain not in WRITTEN_DOMAINS or rdomain not in keep or not {"USUBJID", "IDVAR", "IDVARVAL"} <= set(
                supp.columns):
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


def _one_per_key(study: Study, rejects: RejectReport, keep: dict[str, np.ndarray]) -> None:
    """Records of DM and SV repeating the key of an earlier kept record of the dataset (rows with a part of the
    key empty are not compared, as validate does): rejected, the first converted (see the module's docstring)."""
    for name, keys in get_rule("MSC-SDTM-021").params["keys"].items():
        if name not in keep or not set(keys) <= set(study[name].columns):
            continue
        df = study[name]
        shown = {k: _key_texts(df[k]) for k in keys}
        rows = np.flatnonzero(keep[name] & np.logical_and.reduce([t != "" for t in shown.values()]))
        codes, first = row_codes(pd.DataFrame({k: shown[k][rows] for k in keys}))
        again = np.ones(len(rows), dtype=bool)
        again[first] = False
        if not again.any():
            continue
        dups = rows[again]  # the rows rejected, and per each the row of the first record of its key
        originals = rows[first][codes][again]
        key = [", ".join(f"{k} '{shown[k][i]}'" if k == "USUBJID" else f"{k} {shown[k][i]}" for k in keys)
               for i in dups.tolist()]
        why = pd.Series("", index=df.index, dtype=object)
        why.iloc[dups] = [
            f"{k} is the key of row {r + 1} too: {name} has one record per key ({', '.join(keys)}; validate "
            f"reports a repeat as MSC-SDTM-021) and FHIR one resource per key; row {r + 1} is converted, this "
            f"record is not: give it its own {keys[-1]} if it is another record" for k, r in
            zip(key, originals.tolist(), strict=True)]
        bad = np.zeros(len(df), dtype=bool)
        bad[dups] = True
        _reject(rejects, study, name, bad, keys[-1], why, "REJ-SDTM-005", shown[keys[-1]])
        keep[name] &= ~bad
        example = f"{key[0]}: row {int(originals[0]) + 1} converted, row {int(dups[0]) + 1} rejected"
        rejects.notes.append(_repeat_note(study, name, keys, dups, example, keep))


def _repeat_note(study: Study, name: str, keys: list[str], dups: np.ndarray, example: str,
                 keep: dict[str, np.ndarray]) -> str:
    """The note on what refers to the keys records repeated: the resource of each key's first record."""
    df, n, studyid = study[name], len(dups), studyid_of(study)
    subject = texts(df["USUBJID"].iloc[dups[:1]])[0]
    if name == "DM":
        return (f"DM: {n} record(s) repeat the USUBJID of an earlier record and were rejected (REJ-SDTM-005, each "
                "listed): a subject's Patient and ResearchSubject come from its first DM record, and its records "
                f"of every dataset refer to them (e.g. {example}; Patient {ids.simple_id('pt', studyid, subject)})")
    rid = ids.simple_id("enc", studyid, subject, "v" + float_text(float(df[keys[-1]].iloc[int(dups[0])])))
    repeated = pd.MultiIndex.from_arrays([_key_texts(df[k].iloc[dups]) for k in keys])
    counts = []
    for other in (d for d in WRITTEN_DOMAINS if d in keep and set(keys) <= set(study[d].columns)):
        at = pd.MultiIndex.from_arrays([_key_texts(study[other][k]) for k in keys]).isin(repeated) & keep[other]
        if at.any():
            counts.append(f"{other} {int(at.sum())}")
    others = (f"the records of other datasets at those visits ({', '.join(counts)}) refer to that Encounter"
              if counts else "no record of another dataset is at those visits")
    return (f"{name}: {n} record(s) repeat the visit ({', '.join(keys)}) of an earlier record and were rejected "
            "(REJ-SDTM-005, each listed): each such visit's Encounter holds its first record (its dates, VISIT and "
            f"EPOCH), and {others} (e.g. {example}; Encounter {rid})")


def _key_texts(values: pd.Series) -> np.ndarray:
    """A key variable as text ("" where null): numbers as SDTM writes them (VISITNUM 2.0 -> "2")."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return per_distinct(lambda u: pd.Series([float_text(float(x)) for x in u], dtype=object),
                            values.astype("float64")).to_numpy(dtype=object)
    return texts(values)


def _idvarval(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None or value is pd.NA else str(value)


def _file(study: Study, name: str) -> str:
    return study.sources.get(name, name)


def _reject(rejects: RejectReport, study: Study, name: str, bad: np.ndarray, col: str, reason: str | pd.Series,
            code: str, shown: np.ndarray | None = None) -> None:
    """Reject the rows of `name` where `bad`, naming `col` and its value (the value as `shown` gives it, if given:
    one per row of the dataset)."""
    pos = np.flatnonzero(bad)
    if not len(pos):
        return
    df, file = study[name], _file(study, name)
    values = (df[col].to_numpy(dtype=object) if shown is None else shown)[pos]
    why = reason.to_numpy(dtype=object)[pos] if isinstance(reason, pd.Series) else [reason] * len(pos)
    line = 2 if file.lower().endswith((".csv", ".ndjson")) else 0  # the header / metadata is line 1
    for p, v, w in zip(pos.tolist(), values.tolist(), why, strict=True):
        where = f" (line {p + line})" if line else ""
        rejects.add(name, file, p + 1, col, v, f"{name} row {p + 1}{where}: {w}", code=code)
