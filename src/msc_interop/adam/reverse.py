"""An ADaM folder read back as an SDTM-shaped Study (DM, AE, LB, EX), so that `summary` (and every command that
reads a Study) takes ADaM as input and computes the same numbers.

Each SDTM dataset is its ADaM dataset's copied predecessor variables (ADSL -> DM, ADAE -> AE, ADLB -> LB, ADEX -> EX,
mappings/adam_variables.yaml `predecessor`); where an ADaM dataset written by another tool lacks a predecessor
variable the summary needs, the analysis variable stands in for it (PARAMCD -> LBTESTCD, AVAL -> LBSTRESN, TRTSDT
-> RFXSTDTC, ASTDT -> AESTDTC, ...). Derived analysis variables are not carried into SDTM: the summary derives them
again by the same code (populations, TEAE, baseline), which is what makes the numbers agree. Columns that
define.xml says came from SUPP-- (adam/supp.py) become SUPP-- records again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_interop import mappings
from msc_interop.adam import metadata, supp
from msc_interop.adam.files import folder_files, read_folder
from msc_interop.sdtm.formats import study_meta_from_data
from msc_interop.study import Study

# SDTM variable <- ADaM variable, used only when the ADaM dataset has no copy of the SDTM variable
_STAND_IN = {
    "DM": {"ARM": "TRT01P", "ACTARM": "TRT01A", "ARMCD": "TRT01P", "ACTARMCD": "TRT01A", "RFXSTDTC": "TRTSDT",
           "RFXENDTC": "TRTEDT"},
    "AE": {"AESTDTC": "ASTDT", "AEENDTC": "AENDT"},
    "LB": {"LBTESTCD": "PARAMCD", "LBTEST": "PARAM", "LBSTRESN": "AVAL", "LBSTRESC": "AVALC", "LBNRIND": "ANRIND",
           "VISITNUM": "AVISITN", "VISIT": "AVISIT", "LBDTC": "ADT", "LBDY": "ADY", "LBSTNRLO": "ANRLO",
           "LBSTNRHI": "ANRHI"},
    "EX": {"EXSTDTC": "ASTDT", "EXENDTC": "AENDT"},
}


def is_adam_folder(folder: Path) -> bool:
    """True for a folder holding an ADSL file (adsl.xpt / adsl.json) and no DM."""
    names = {p.name.lower() for p in folder.iterdir() if p.is_file()}
    return bool(names & {"adsl.xpt", "adsl.json"}) and not names & {"dm.xpt", "dm.json", "dm.ndjson", "dm.csv"}


def qualifiers_of(define: Path) -> dict[str, dict[str, tuple[str, str, str]]]:
    """ADaM dataset -> {QNAM: (QLABEL, IDVAR, QORIG)} of the columns define.xml says came from SUPP-- (adam/supp.py);
    empty without a readable define.xml (the columns then stay columns of the SDTM dataset)."""
    from lxml import etree

    from msc_interop.sdtm.define import DEF_NS, ODM_NS

    out: dict[str, dict[str, tuple[str, str, str]]] = {}
    if not define.is_file():
        return out
    try:
        tree = etree.parse(str(define), etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, OSError):
        return out
    ns = {"odm": ODM_NS, "def": DEF_NS}
    for item in tree.iterfind(".//odm:ItemDef", ns):
        text = item.findtext("def:Origin/odm:Description/odm:TranslatedText", default="", namespaces=ns)
        parsed = supp.parse_source(text)
        oid = item.get("OID", "").split(".")
        if parsed is None or len(oid) != 3:
            continue
        label = item.findtext("odm:Description/odm:TranslatedText", default=parsed[1], namespaces=ns)
        out.setdefault(oid[1], {})[parsed[1]] = (label, parsed[2], parsed[3])
    return out


def _predecessor(ds: str, frame: pd.DataFrame, qualifiers: dict[str, tuple[str, str, str]] | None = None
                 ) -> pd.DataFrame:
    meta = metadata.datasets()[ds]
    domain = meta.predecessor
    derived = {v.name for v in meta.variables if v.origin != "Predecessor"} | set(qualifiers or {})
    keep = [c for c in frame.columns if c not in derived]
    out = frame[keep].copy()
    for sdtm_var, adam_var in _STAND_IN.get(domain, {}).items():
        if sdtm_var in out.columns or adam_var not in frame.columns:
            continue
        v = meta.by_name.get(adam_var)
        out[sdtm_var] = metadata.iso_date(metadata.from_sas_date(frame[adam_var])) if v and v.is_date \
            else frame[adam_var]
    if domain == "LB" and "ABLFL" in frame and not {"LBBLFL", "LBLOBXFL"} & set(out.columns):
        out["LBBLFL"] = frame["ABLFL"]
    out.insert(0, "DOMAIN", domain)
    if "STUDYID" in out:
        out = out[["STUDYID", *[c for c in out.columns if c != "STUDYID"]]]
    sdtm = mappings.sdtm_domain(domain)
    if sdtm is not None:  # numbers SDTM holds as text (ARMCD from a stand-in is text already)
        for c in out.columns:
            v = sdtm.by_name.get(c)
            if v is not None and v.type == "Char" and pd.api.types.is_numeric_dtype(out[c]):
                out[c] = out[c].map(lambda x: "" if pd.isna(x) else (str(int(x)) if float(x).is_integer() else str(x)))
    return out


def read_notes(folder: Path) -> list[str]:
    """What reading the ADaM folder takes and leaves: the files read (each as its SDTM predecessor), then every
    other file with why it is not read (printed by summary and every command that reads ADaM)."""
    read, unread = folder_files(folder)
    taken = ", ".join(f"{p.name} (as {metadata.datasets()[ds].predecessor})" for ds, p in read.items())
    define = " and define.xml" if (folder / "define.xml").is_file() else ""
    notes = [f"{folder}: ADaM read from {taken}{define}"]
    notes += [f"{u.path}: not read, {u.reason}" for u in unread]
    return notes


def study_from_adam(folder: Path) -> Study:
    """The Study of an ADaM folder (each dataset from its .json file, else its .xpt file; adam/files.folder_files)."""
    adam = read_folder(folder)
    quals = qualifiers_of(folder / "define.xml")
    datasets = {}
    for ds, frame in adam.items():
        domain = metadata.datasets()[ds].predecessor
        datasets[domain] = _predecessor(ds, frame, quals.get(ds))
        supp_records = supp.rebuild(domain, frame, quals.get(ds, {}))
        if len(supp_records):
            datasets[f"SUPP{domain}"] = supp_records
    meta = study_meta_from_data(datasets)
    meta.ct_package = mappings.ct_source().get("package_date", "")
    study = Study(meta, datasets)
    study.sources = {metadata.datasets()[ds].predecessor: f"{ds.lower()} ({folder.name})" for ds in adam}
    study.sources.update({f"SUPP{d}": f"define.xml ({folder.name})" for d in study.sources if f"SUPP{d}" in study})
    return study
