"""Study: the hub every command reads into or writes from.

A Study is plain SDTM-shaped DataFrames (one per dataset: DM, EX, AE, LB, SUPPEX, ...) plus study metadata.
It is strict at construction and puts each dataset into one canonical form (column order from the SDTM
metadata, character variables as text with "" for null, integer variables as Int64, other numbers as
float64), so a Study read from XPT, Dataset-JSON, CSV or FHIR compares equal cell for cell.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.columns_frame import frame_of_columns
from msc_interop.distinct import known_codes
from msc_interop.errors import MscInteropError

_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
# Identifier variables a dataset must have to be converted at all (when its SDTM metadata defines them): every
# subject-level record is keyed by its subject. Other Req variables missing are findings of validate
# (MSC-SDTM-001), not a reason to refuse the data.
REQUIRED_IDENTIFIERS = ("USUBJID",)
VISIT_COLUMNS = ["VISITNUM", "VISIT", "protocol_day", "planned_dy", "window_before", "window_after", "EPOCH",
                 "aliases"]


@dataclass
class StudyMeta:
    """Study-level facts: identifiers, sites, arms, visit schedule, time zone, standard versions."""

    studyid: str
    title: str = ""
    protocol: str = ""
    sponsor: str = ""
    timezone: str = "UTC"
    indication: dict[str, str] = field(default_factory=dict)
    sites: list[dict[str, str]] = field(default_factory=list)
    arms: list[dict[str, Any]] = field(default_factory=list)  # armcd, arm (and path: the arm's TA, when declared)
    elements: list[dict[str, str]] = field(default_factory=list)  # TE as study.yaml declares it (trial_arms.py)
    visits: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=VISIT_COLUMNS))
    planned_exposure: dict[str, Any] = field(default_factory=dict)
    # the study's own treatments (study.yaml products); empty: mappings/exposure.yaml's (sdtm/ex.py)
    products: list[dict[str, Any]] = field(default_factory=list)
    sdtmig_version: str = "3.4"
    ct_package: str = ""
    # an SDTM package read from files: its own layouts and standard versions (sdtm/package.py); None when
    # msc-interop built the datasets
    package: Any = None

    def metadata_version_oid(self) -> str:
        """The OID of the MetaDataVersion of the define.xml msc-interop writes (Dataset-JSON metaDataVersionOID
        names it too): MDV.<STUDYID>.SDTMIG.<version>; an existing package that states no SDTMIG version gets
        UNSTATED there, not a version it did not claim."""
        unstated = self.package is not None and not getattr(self.package, "sdtmig", None)
        version = "UNSTATED" if unstated else self.sdtmig_version or mappings.sdtmig_version()
        return f"MDV.{self.studyid}.SDTMIG.{version}"

    @classmethod
    def from_definition(cls, d: dict[str, Any]) -> StudyMeta:
        """Build from a study definition (study.yaml content, already schema-checked)."""
        visits = pd.DataFrame(
            [
                {
                    "VISITNUM": float(v["visitnum"]),
                    "VISIT": v["visit"],
                    "protocol_day": int(v["protocol_day"]),
                    # protocol day 0 is study day 1 (SDTMIG 4.4.4: no day 0)
                    "planned_dy": int(v["protocol_day"]) + (1 if int(v["protocol_day"]) >= 0 else 0),
                    "window_before": int(v.get("window_before", 0)),
                    "window_after": int(v.get("window_after", 0)),
                    "EPOCH": v["epoch"],
                    "aliases": tuple(v.get("aliases", [])),
                }
                for v in d["visits"]
            ],
            columns=VISIT_COLUMNS,
        )
        return cls(
            studyid=d["studyid"], title=d.get("title", ""), protocol=d.get("protocol", ""),
            sponsor=d.get("sponsor", ""), timezone=d.get("timezone", "UTC"),
            indication=dict(d.get("indication", {})), sites=[dict(s) for s in d["sites"]],
            arms=[dict(a) for a in d["arms"]], elements=[dict(e) for e in d.get("elements", [])], visits=visits,
            planned_exposure=dict(d.get("planned_exposure", {})),
            products=[dict(p) for p in d.get("products", [])],
            ct_package=mappings.ct_source().get("package_date", ""),
        )


class Study:
    """SDTM datasets by name plus metadata; `carried` holds source forms not yet mapped to SDTM.

    Each dataset must have the REQUIRED_IDENTIFIERS its metadata defines (USUBJID), or construction fails
    with one message; `require_identifiers=False` (validate, which reports them as findings) skips that.
    """

    def __init__(self, meta: StudyMeta, datasets: dict[str, pd.DataFrame],
                 carried: dict[str, pd.DataFrame] | None = None, *, require_identifiers: bool = True):
        self.meta = meta
        self.datasets: dict[str, pd.DataFrame] = {}
        for name in sorted(datasets):
            if require_identifiers:
                check_identifiers(name, datasets[name])
            self.datasets[name] = conform(name, datasets[name])
        self.carried = dict(carried or {})
        self.sources: dict[str, str] = {}  # dataset -> the file it was read from (SDTM input), for messages
        self.reading_notes: list[str] = []  # what reading the input found worth saying (a dataset in two formats)
        # non-ASCII text value -> (file, row, field) of the study record it came from (records input), so that
        # a writer's note about the value names the record, not only the dataset row
        self.text_origins: dict[str, tuple[str, int, str]] = {}

    @classmethod
    def of_conformed(cls, meta: StudyMeta, datasets: dict[str, pd.DataFrame]) -> Study:
        """A Study of datasets that conform already (each joined from the datasets of two Studies: sdtm/
        load_in_two.py), not checked or conformed again (a pass over every column of a million rows)."""
        study = cls(meta, {})
        study.datasets = {name: datasets[name] for name in sorted(datasets)}
        return study

    def keep_rows(self, keep: Mapping[str, np.ndarray]) -> Study:
        """This study with only the rows of each dataset in `keep` where it is True (the rows already conform:
        no dataset is checked again)."""
        out = copy.copy(self)
        out.datasets = {name: df[keep[name]].reset_index(drop=True) if name in keep and not keep[name].all() else df
                        for name, df in self.datasets.items()}
        return out

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(f"the study has no {name} dataset (it has: {', '.join(self.datasets) or 'none'})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.datasets

    @property
    def names(self) -> list[str]:
        """Dataset names, parent domains first then SUPP-- (stable order for writers)."""
        return sorted(self.datasets, key=lambda n: (n.startswith("SUPP"), n))

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={len(self.datasets[n])}" for n in self.names)
        return f"Study({self.meta.studyid!r}: {parts})"


def conform(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check a dataset's names and put it in canonical column order and dtypes."""
    if not _NAME.match(name):
        raise MscInteropError(f"dataset name {name!r} is not a valid SDTM name (A-Z, 0-9, _; at most 8; letter first)")
    bad = [c for c in df.columns if not isinstance(c, str) or not _NAME.match(c)]
    if bad:
        raise MscInteropError(f"dataset {name}: variable names {bad} are not valid SDTM names "
                              "(upper case A-Z, 0-9, _; at most 8 characters; letter first)")
    if len(set(df.columns)) != len(df.columns):
        raise MscInteropError(f"dataset {name}: duplicate variable names")
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        df = df.reset_index(drop=True)  # rows by position: a filtered frame's labels would misalign (rows lost)
    meta = mappings.sdtm_domain(name)
    known = meta.by_name if meta else {}
    order = [v.name for v in meta.variables if v.name in df.columns] if meta else []
    order += [c for c in df.columns if c not in order]
    out = {}
    for col in order:
        s = df[col]
        v = known.get(col)
        if v is not None and v.type == "Char":
            out[col] = as_text(s)
        elif v is not None and v.datatype == "integer":
            out[col] = as_integer(s, name, col)
        elif v is not None:
            out[col] = pd.to_numeric(as_text(s).replace("", np.nan) if s.dtype == object else s,
                                     errors="raise").astype("float64")
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("float64")
        else:
            out[col] = as_text(s)
    return frame_of_columns(out, pd.RangeIndex(len(df)))  # no copy into 2-D blocks (columns_frame.py)


def missing_identifiers(name: str, columns: Any) -> list[str]:
    """The REQUIRED_IDENTIFIERS that dataset `name`'s SDTM metadata defines but `columns` lacks."""
    meta = mappings.sdtm_domain(name)
    if meta is None:
        return []
    return [v for v in REQUIRED_IDENTIFIERS if v in meta.by_name and v not in columns]


def check_identifiers(name: str, df: pd.DataFrame) -> None:
    """MscInteropError when the dataset lacks a required identifier variable (readers add the file name)."""
    missing = missing_identifiers(name, df.columns)
    if missing:
        raise MscInteropError(f"dataset {name} lacks the required variable {', '.join(missing)} (SDTM identifier, "
                              f"Core Req: it says whose record each row is); add the {missing[0]} column")


def as_text(s: pd.Series) -> pd.Series:
    """Character variable: Python str values, "" for null (the SDTM convention XPT also uses)."""
    if pd.api.types.is_float_dtype(s):
        # numbers stored as text: integral values without ".0" (e.g. CSV read of a char column)
        txt = s.map(lambda x: "" if pd.isna(x) else (str(int(x)) if float(x).is_integer() else repr(float(x))))
        return txt.astype(object)
    if s.dtype == object and _all_text(s):
        return s.copy(deep=False)  # text already: the same values, not a copy of a million of them
    out = s.astype(object).where(s.notna(), "")
    if len(out) and pd.api.types.infer_dtype(out, skipna=False) != "string":
        out = out.map(lambda x: x if isinstance(x, str) else str(x)).astype(object)
    return out


def _all_text(s: pd.Series) -> bool:
    """Whether every value of an object column is a str (no null): from its distinct values when their codes
    are known already (distinct.shared_columns), else by a pass over the rows."""
    known = known_codes(s)
    if known is not None:  # (infer_dtype: the same answer as isinstance(v, str) for each, in C)
        return not len(known[1]) or pd.api.types.infer_dtype(known[1], skipna=False) == "string"
    return bool(len(s)) and pd.api.types.infer_dtype(s, skipna=False) == "string"


def as_integer(s: pd.Series, dataset: str, col: str) -> pd.Series:
    num = pd.to_numeric(s.replace("", np.nan) if s.dtype == object else s, errors="coerce")
    frac = num.notna() & (num != np.floor(num))
    if frac.any():
        raise MscInteropError(f"dataset {dataset}, variable {col}: non-integer value {num[frac].iloc[0]!r} "
                              f"in row {int(frac.idxmax()) + 1}; {col} is an integer variable")
    return num.round().astype("Int64")
