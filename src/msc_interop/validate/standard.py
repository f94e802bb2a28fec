"""The standard a study is checked against: its SDTMIG version, the domain and class of each dataset, and the
Required / Expected variables that follow from them.

The version is read, not assumed: `--sdtmig`, else what define.xml states (1.0 / 2.0: MetaDataVersion
def:StandardVersion; 2.1: def:Standard Type="IG"), else TS (TSPARMCD SDTIGVER), else msc-interop's own metadata
version (3.4). A variable a later SDTMIG version added is not demanded of an older study
(mappings/sdtmig_versions.yaml). Each dataset is checked as its domain: a split dataset (LBCH, QSCG: SDTMIG
§4.1.7, told by its DOMAIN value) as the domain it is part of; a domain's variables come from msc-interop's own
metadata (sdtm_variables.yaml), else the SDTMIG table in sdtm_model.yaml, else the Required variables of its
SDTM class (from sdtm_model.yaml, or define.xml def:Class for a sponsor domain).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from msc_interop import mappings

# datasets whose name is not a domain code plus a split suffix (never read as a split of "RE" or "SU")
_NOT_SPLIT = frozenset({"RELREC", "RELSUB", "RELSPEC", "SUPPQUAL"})
_SPLITTABLE = frozenset({"INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT"})


@functools.cache
def _versions() -> dict:
    return mappings.load("sdtmig_versions")


@functools.cache
def _model() -> dict:
    return mappings.load("sdtm_model")


def known_versions() -> list[str]:
    return list(_versions()["versions"])


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def normalise_version(text: str) -> tuple[str | None, str]:
    """(a known SDTMIG version, a remark) for a version as written ("3.1.2", "SDTMIG 3.2", "3.1.1", "v3.3.0")."""
    m = re.search(r"3(?:\.\d+)+", text or "")
    if not m:
        return None, f"'{text}' is not an SDTMIG version"
    parts = m.group(0).split(".")
    known = known_versions()
    for n in (3, 2):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate, ""
    if _key(".".join(parts[:3])) < _key(known[0]):
        return known[0], f"SDTMIG {m.group(0)} is older than any msc-interop has metadata for: checked as {known[0]}"
    return None, f"SDTMIG {m.group(0)} is not one msc-interop has metadata for ({', '.join(known)})"


@dataclass(frozen=True)
class Standard:
    """The SDTMIG version used and where it came from; classes define.xml states (def:Class) by dataset."""

    sdtmig: str
    source: str = "msc-interop default (no version stated)"
    remarks: tuple[str, ...] = ()
    define_classes: Mapping[str, str] = field(default_factory=dict)
    # the CDISC CT version the study states (--ct, define.xml 2.1 def:Standard Type="CT") and where; CT rules
    # always use the one package msc-interop holds (mappings/codelists.json), MSC-SDTM-039 says so when they differ
    ct: str | None = None
    ct_source: str = ""

    @property
    def worth_saying(self) -> bool:
        """True when the version is not msc-interop's default one, or reading it needed a remark."""
        return self.sdtmig != _versions()["default"] or bool(self.remarks)


def default_standard() -> Standard:
    return Standard(_versions()["default"])


def ts_version(datasets: Mapping[str, pd.DataFrame]) -> str | None:
    """TSVAL of TSPARMCD SDTIGVER (CDISC CT C156604, "SDTM IG Version"), if TS has it."""
    ts = datasets.get("TS")
    if ts is None or not {"TSPARMCD", "TSVAL"} <= set(ts.columns):
        return None
    hit = ts.loc[ts["TSPARMCD"].astype(str).str.strip().eq("SDTIGVER"), "TSVAL"]
    return str(hit.iloc[0]) if len(hit) else None


def resolve(option: str | None, stated_in_define: tuple[str, str] | None, ts: str | None,
            define_classes: Mapping[str, str] | None = None) -> tuple[Standard, list[str]]:
    """The Standard from --sdtmig, define.xml and TS (in that order); and the disagreements between the last two."""
    classes = dict(define_classes or {})
    conflicts: list[str] = []
    define_v = normalise_version(stated_in_define[0])[0] if stated_in_define else None
    ts_v = normalise_version(ts)[0] if ts else None
    if define_v and ts_v and define_v != ts_v:
        conflicts.append(f"{stated_in_define[1]} says {define_v} but TS SDTIGVER says {ts_v}")
    if option:
        version, remark = normalise_version(option)
        return Standard(version or _versions()["default"], "--sdtmig", (remark,) if remark else (), classes), conflicts
    candidates = ([stated_in_define] if stated_in_define else []) + ([(ts, "TS TSPARMCD SDTIGVER")] if ts else [])
    remarks: list[str] = []
    for text, where in candidates:
        version, remark = normalise_version(text)
        if version:
            return Standard(version, where, tuple(remarks + ([remark] if remark else [])), classes), conflicts
        remarks.append(f"{where}: {remark}")
    return Standard(_versions()["default"], "msc-interop default (no version stated)", tuple(remarks),
                    classes), conflicts


def added_after(version: str) -> dict[str, set[str]]:
    """Domain -> variables added by SDTMIG versions later than `version` (not demanded of this study)."""
    out: dict[str, set[str]] = {}
    for v, domains in _versions()["added"].items():
        if _key(v) > _key(version):
            for domain, names in domains.items():
                out.setdefault(domain, set()).update(names)
    return out


# --- domains and classes ----------------------------------------------------------------------------------------

def domain_of(ds: str, df: pd.DataFrame | None) -> str:
    """The domain a dataset belongs to: a split dataset (LBCH with DOMAIN = LB, SDTMIG §4.1.7) is its domain;
    SUPP-- and RELREC are themselves."""
    if ds.startswith("SUPP") or ds in _NOT_SPLIT or df is None or "DOMAIN" not in df.columns or not len(df):
        return ds
    values = pd.unique(df["DOMAIN"].astype(object))
    if len(values) != 1 or not isinstance(values[0], str) or not re.fullmatch(r"[A-Z]{2}", values[0]):
        return ds
    dom = values[0]
    if ds == dom or not ds.startswith(dom) or len(ds) > 4:
        return ds
    # only the general observation classes are split (one record per subject in DM, one per arm element in TA)
    cls = _class_of_domain().get(dom)
    return dom if cls is None or cls in _SPLITTABLE else ds


def class_name(text: str) -> str:
    """A class as SDTM spells it: 'Special Purpose', 'FINDINGS-ABOUT' -> 'SPECIAL PURPOSE', 'FINDINGS ABOUT'."""
    return re.sub(r"[\s_-]+", " ", text.strip().upper())


@functools.cache
def _class_of_domain() -> dict[str, str]:
    return {d: cls for cls, domains in _model()["domains"].items() for d in domains}


def sdtm_class(domain: str, standard: Standard | None = None) -> tuple[str | None, str]:
    """(class, where it comes from) of a domain: the SDTMIG domain list, else define.xml def:Class."""
    if domain.startswith("SUPP"):
        return "RELATIONSHIP", "SDTMIG section 8 (SUPP--)"
    known = _class_of_domain().get(domain)
    if known:
        return known, "SDTMIG domain list"
    stated = (standard.define_classes.get(domain) if standard else None)
    if stated and class_name(stated) in _model()["classes"]:
        return class_name(stated), f"define.xml def:Class \"{stated}\""
    return None, ""


@dataclass(frozen=True)
class DomainSpec:
    """The Required and Expected variables of a domain for one SDTMIG version, and what they were taken from."""

    domain: str
    sdtm_class: str | None
    required: tuple[str, ...]
    expected: tuple[str, ...]
    source: str  # "" when nothing is known of the domain
    codelists: bool  # msc-interop holds the domain's CDISC codelist bindings (sdtm_variables.yaml)


def domain_spec(domain: str, standard: Standard) -> DomainSpec:
    """What msc-interop knows of a domain: its own metadata, an SDTMIG table, or its class's Required variables."""
    cls, cls_source = sdtm_class(domain, standard)
    later = added_after(standard.sdtmig).get("SUPPQUAL" if domain.startswith("SUPP") else domain, set())
    own = mappings.sdtm_domain(domain)
    if own is not None:
        req = tuple(v.name for v in own.variables if v.core == "Req" and v.name not in later)
        exp = tuple(v.name for v in own.variables if v.core == "Exp" and v.name not in later)
        since = "" if standard.sdtmig == _versions()["default"] else f", less what SDTMIG added after {standard.sdtmig}"
        return DomainSpec(domain, cls, req, exp, f"msc-interop's {own.name} metadata (SDTMIG 3.4{since})", True)
    table = _model()["domain_variables"].get(domain)
    if table is not None:
        return DomainSpec(domain, cls, tuple(n for n in table["Req"] if n not in later),
                          tuple(n for n in table.get("Exp", []) if n not in later),
                          f"the SDTMIG {domain} table (Req/Exp)", False)
    if cls is not None:
        prefix = domain[:2]
        req = tuple(n.replace("--", prefix) for n in _model()["classes"][cls]["required"])
        return DomainSpec(domain, cls, req, (), f"the Required variables of the SDTM {cls} class ({cls_source})", False)
    return DomainSpec(domain, None, (), (), "", False)


# --- the SDTMIG 3.4 domain tables (all variables of a standard domain, with their Core) ----------------------

@functools.cache
def _ig_tables() -> dict:
    return mappings.load("sdtmig_domains")


def ig_table_version() -> str:
    """The SDTMIG version of mappings/sdtmig_domains.yaml (3.4: the only one held, used for every study)."""
    return str(_ig_tables()["sdtmig"])


def ig_table(domain: str) -> dict[str, str] | None:
    """Variable -> Core ("Req", "Exp", "Perm", "Model Permissible", "Prohibited", ...) of a standard domain's
    SDTMIG table and the SDTM model variables P21 lists with it (mappings/sdtmig_domains.yaml); None for a domain
    not held there (a sponsor domain, SUPP--, RELREC, one not transcribed)."""
    table = _ig_tables()["domains"].get(domain)
    return None if table is None else {v["name"]: v["core"] for v in table["variables"]}
