"""ADaM datasets as files: XPT v5 (the column-wise writer of sdtm/xpt.py, numeric dates with DATE9.) and
Dataset-JSON 1.1 (sdtm/datasetjson.py; dates as ISO 8601 text with dataType "date", targetDataType "integer",
as the Dataset-JSON 1.1 specification says for SAS numeric dates); and their reader, which gives back the same
frames (tests compare them cell for cell)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from msc_interop.adam import metadata
from msc_interop.errors import InputError, OutputLimitError
from msc_interop.inputs.kinds import own_output
from msc_interop.sdtm import datasetjson, xpt
from msc_interop.sdtm.datasetjson_read import read_dataset_json
from msc_interop.study import as_text

SUFFIX = {"xpt": ".xpt", "json": ".json"}


def canonical(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Text as str with "" for missing, every number float64 (what XPT can hold, and how frames compare)."""
    out = {}
    for c in frame.columns:
        s = frame[c]
        out[c] = s.astype("float64") if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
            else as_text(s)
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    result.attrs = dict(frame.attrs)
    return result


def mdv_oid(studyid: str) -> str:
    return f"MDV.{studyid}.ADaMIG.{metadata.standard()['version']}"


def write_dataset(name: str, frame: pd.DataFrame, path: Path, fmt: str, *, studyid: str, created: str) -> None:
    data = canonical(name, frame)
    cols = metadata.columns(name, data)
    label = metadata.datasets()[name].label
    if fmt == "xpt":
        labels = {v.name: v.label for v in cols}
        problems = xpt.xpt_problems(data, name, labels=labels, label=label)
        if problems:
            raise OutputLimitError([f"XPT v5: {p}" for p in problems])
        xpt.write_conformed(data, name, path, labels=labels, label=label, created=created,
                            formats={v.name: v.format for v in cols if v.format})
        return
    attrs: dict[str, dict[str, object]] = {}
    keys = [k for k in metadata.datasets()[name].keys if k in data.columns]
    for v in cols:
        a: dict[str, object] = {"label": v.label}
        if v.is_date:
            data[v.name] = metadata.iso_date(metadata.from_sas_date(data[v.name]))
            a.update(dataType="date", targetDataType="integer", displayFormat=v.format)
        if v.name in keys:
            a["keySequence"] = keys.index(v.name) + 1
        attrs[v.name] = a
    datasetjson.write_conformed(data, name, path, created=created, column_attrs=attrs, header_attrs={
        "fileOID": f"{studyid}.ADaM.{name}", "studyOID": f"STDY.{studyid}", "metaDataVersionOID": mdv_oid(studyid),
        "label": label})


def write_datasets(datasets: Mapping[str, pd.DataFrame], folder: Path, fmt: str, *, studyid: str,
                   created: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, frame in datasets.items():
        path = folder / f"{name.lower()}{SUFFIX[fmt]}"
        write_dataset(name, frame, path, fmt, studyid=studyid, created=created)
        out.append(path)
    return out


def read_dataset(path: Path) -> tuple[str, pd.DataFrame]:
    """One ADaM file back as written: numeric dates as SAS date numbers, every number float64, text str."""
    name, df, _header = read_dataset_with_header(path)
    return name, df


def read_dataset_with_header(path: Path) -> tuple[str, pd.DataFrame, dict[str, Any] | None]:
    """read_dataset, and a Dataset-JSON file's top-level metadata (without its rows; None for XPT): the OIDs
    validate checks against define.xml."""
    if path.suffix.lower() == ".xpt":
        # (ADaM dates are numeric by design: no note; derived numbers read back bit for bit)
        name, df = xpt.read_xpt(path, note_dates=False, decimals=False)
        df = df.copy()
        known = metadata.datasets()[name].by_name if name in metadata.datasets() else {}
        for c in df.columns:  # pyreadstat hands DATE9. numbers back as dates (read_xpt: ISO 8601 text)
            if c in known and known[c].is_date and not pd.api.types.is_numeric_dtype(df[c]):
                df[c] = metadata.to_sas_date(metadata.from_sas_date(df[c].astype(object)))
        return name, canonical(name, df), None
    name, df, meta = read_dataset_json(path)
    df = df.copy()
    for col in meta["columns"]:
        if col.get("dataType") == "date" and col.get("targetDataType") == "integer":
            df[col["name"]] = metadata.to_sas_date(metadata.from_sas_date(df[col["name"]].astype(object)))
    return name, canonical(name, df), meta


@dataclass(frozen=True)
class Unread:
    """A file of an ADaM folder that is not read as a dataset, and why (`kind`: duplicate, unknown, report)."""

    path: Path
    kind: str
    reason: str


def folder_files(folder: Path) -> tuple[dict[str, Path], list[Unread]]:
    """The ADaM dataset files of `folder` to read, by dataset name (of adsl.json and adsl.xpt side by side the
    first by name, the JSON, is read), and every other file with why it is not read (define.xml, the metadata
    read beside the datasets, and hidden files are not listed)."""
    known = metadata.datasets()
    read: dict[str, Path] = {}
    unread: list[Unread] = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.name.lower() == "define.xml":
            continue
        name = p.stem.upper()
        if p.suffix.lower() in SUFFIX.values() and name in known:
            if name in read:
                unread.append(Unread(p, "duplicate", f"{name} is read from {read[name].name} beside it"))
            else:
                read[name] = p
            continue
        what = own_output(p)
        if what is not None:
            unread.append(Unread(p, "report", f"it is {what}, not data"))
        else:
            names = ", ".join(f"{n.lower()}.xpt/.json" for n in known)
            unread.append(Unread(p, "unknown", f"not an ADaM dataset msc-interop reads ({names})"))
    return read, unread


def read_folder(folder: Path, names: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """The ADaM datasets of a folder (adsl.xpt / adsl.json, ...), by dataset name."""
    out = {}
    for name, p in folder_files(folder)[0].items():
        if names is None or name in names:
            out[name] = read_dataset(p)[1]
    if "ADSL" not in out:
        raise InputError(f"{folder}: no ADSL (adsl.xpt or adsl.json): not an ADaM folder")
    return out


def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Cell-for-cell equality of two canonical frames (NaN equals NaN)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x):
            xa, ya = x.to_numpy("float64"), y.to_numpy("float64")
            if not np.array_equal(xa, ya, equal_nan=True):
                return False
        elif not (x.to_numpy(dtype=object) == y.to_numpy(dtype=object)).all():
            return False
    return True
