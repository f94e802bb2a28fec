"""Split a dataset too large for one XPT file into SDTMIG §4.1.7 pieces (LB -> LBCH, LBHE, ... by LBCAT).

FDA's Study Data Technical Conformance Guide asks that a dataset over 5 GB be split into smaller files;
`to-sdtm --max-file-size` sets the limit. The XPT size of each dataset is computed before anything is written
(header records + rows x record length, the layout SAS TS-140 fixes), so a split is decided on the Study, not
on a file already too large. Each piece keeps every variable, its label and its storage length (those of
the whole dataset, so that the pieces put together are the dataset cell for cell) and DOMAIN = the parent
code; rows keep their order. SUPP-- of a split domain follows its parent records (IDVAR = --SEQ). The
suffixes come from mappings/split_datasets.yaml. A category still over the limit alone is written and named
in a note (it cannot be split further the SDTMIG way), never silently.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from msc_interop import mappings
from msc_interop.errors import MscInteropError
from msc_interop.sdtm.package import DatasetLayout, Package, as_package_states
from msc_interop.sdtm.xpt import MAX_VALUE_BYTES, as_stored, variable_labels
from msc_interop.sdtm.xpt_layout import RECORD
from msc_interop.sdtm.xpt_rows import storage_widths
from msc_interop.study import Study

DEFAULT_MAX_FILE_SIZE = 5 * 10**9  # FDA's 5 GB (decimal gigabytes)
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
# XPT v5 header: library (3 records) + member, descriptor, 2 member data, NAMESTR header (5) + OBS header (1)
_HEADER_RECORDS = 9
_NAMESTR = 140


@dataclass(frozen=True)
class Piece:
    """One split dataset: its name (LBCH), parent (LB), category (CHEMISTRY), label and number of rows."""

    name: str
    parent: str
    category: str
    label: str
    rows: int


@dataclass
class Split:
    """A study with its over-limit datasets replaced by their pieces, the pieces by parent, the notes, and the
    label of each SUPP-- piece written (SUPPLBCH: define.xml describes it). A partitioned run (sdtm/split_stream.py)
    writes the pieces streamed: its `study` is the proxy study, not split."""

    study: Study
    pieces: dict[str, list[Piece]]
    notes: list[str]
    supp_labels: dict[str, str] = dataclasses.field(default_factory=dict)


def parse_size(text: str) -> int:
    """Bytes of a size as given on the command line: 5GB, 500MB, 1.5GB, 64KiB, 1000 (decimal KB/MB/GB as
    FDA states 5 GB; KiB/MiB/GiB binary)."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).upper() if m else ""
    if m is None or unit not in _UNITS:
        raise MscInteropError(f"--max-file-size {text!r}: give a number of bytes with an optional unit "
                              f"(B, KB, MB, GB, TB, KiB, MiB, GiB), e.g. 5GB or 500MB")
    size = int(float(m.group(1)) * _UNITS[unit])
    if size <= 0:
        raise MscInteropError(f"--max-file-size {text!r}: the limit must be more than 0 bytes")
    return size



def xpt_size(n_rows: int, widths: dict[str, int]) -> int:
    """Bytes of an XPT v5 file with these record widths: header, NAMESTR records, rows (80-byte padded)."""
    namestr = math.ceil(_NAMESTR * len(widths) / RECORD) * RECORD
    return _HEADER_RECORDS * RECORD + namestr + math.ceil(n_rows * sum(widths.values()) / RECORD) * RECORD


def frame_widths(df: pd.DataFrame, lay: DatasetLayout | None, encoding: str) -> dict[str, int]:
    """Storage widths as the XPT writer computes them (numbers 8, text its longest encoded value)."""
    frame = as_package_states(df, lay)
    return storage_widths(as_stored(frame), encoding, lay.lengths if lay else None)


@functools.cache
def _rules() -> dict:
    return mappings.load("split_datasets")


def suffixes(categories: list[str]) -> dict[str, str]:
    """Category -> two-character suffix: mappings/split_datasets.yaml, else a stable fallback (sorted order:
    first two letters/digits; if taken, first letter + 1-9; then 10-99)."""
    rules = _rules()
    out: dict[str, str] = {}
    for cat in sorted(categories):
        key = cat.strip().upper()
        known = rules["blank"] if not key else rules["suffixes"].get(key)
        if known and known not in out.values():
            out[cat] = known
            continue
        chars = re.sub(r"[^A-Z0-9]", "", key) or "X"
        options = [chars[:2].ljust(2, "X"), *(chars[0] + str(d) for d in range(1, 10)), *map(str, range(10, 100))]
        reserved = {*out.values(), *rules["suffixes"].values(), rules["blank"]}
        free = [o for o in options if o not in reserved]
        if not free:
            raise MscInteropError(f"cannot name a split dataset for category {cat!r}: all suffixes taken")
        out[cat] = free[0]
    return out


def category_column(name: str) -> str:
    """The variable a dataset is split by (LB: LBCAT)."""
    return f"{name}{_rules()['split_by']}"


def category_values(df: pd.DataFrame, cat: str) -> pd.Series:
    """The --CAT value of each row as a split reads it (missing: "")."""
    return df[cat].astype(object).where(df[cat].notna(), "").astype(str)


def plan_split(name: str, columns: list[str], n_rows: int, widths: dict[str, int], limit: int, parent_label: str,
               counts: Callable[[], dict[str, int]]) -> tuple[list[Piece], list[str]]:
    """The pieces of dataset `name` (none: it fits, or cannot be split) and the notes on what stays over the
    limit. `counts()`: rows of each --CAT value (asked only when the dataset is over the limit). A whole run
    and a partitioned one both decide here, so they name, label and note the pieces alike."""
    size = xpt_size(n_rows, widths)
    if size <= limit:
        return [], []
    cat = category_column(name)
    if len(name) != 2 or cat not in columns or "DOMAIN" not in columns:
        lacks = ("it is not a two-letter domain" if len(name) != 2 else
                 f"it has no {cat} to split by" if cat not in columns else "it has no DOMAIN variable")
        return [], [f"{name}: the XPT file is {size:,} bytes, over --max-file-size {limit:,}, and cannot be split "
                    f"the SDTMIG way (by --CAT; {lacks}); written whole"]
    rows = counts()
    names = suffixes(sorted(rows))
    pieces = [Piece(name + names[c], name, c, _piece_label(parent_label, c), rows[c])
              for c in sorted(names, key=names.get)]
    notes = [f"{p.name} ({cat} {p.category!r}, {p.rows:,} rows): the XPT file is {xpt_size(p.rows, widths):,} "
             f"bytes, over --max-file-size {limit:,}; one category cannot be split further the SDTMIG way, written "
             f"over the limit" for p in pieces if xpt_size(p.rows, widths) > limit]
    return pieces, notes


def parent_label_of(name: str, lay: DatasetLayout | None) -> str:
    """The dataset label a piece's label starts from (a package's own, else the SDTM metadata's)."""
    return lay.label if lay is not None and lay.label else mappings.dataset_label(name)


def split_study(study: Study, limit: int, encoding_of: Callable[[str], str]) -> Split:
    """The study with every dataset whose XPT file would exceed `limit` bytes split by its --CAT value."""
    pkg = getattr(study.meta, "package", None)
    layouts = dict(pkg.layouts) if isinstance(pkg, Package) else {}
    datasets = dict(study.datasets)
    pieces: dict[str, list[Piece]] = {}
    notes: list[str] = []
    for name in study.names:
        if name.startswith("SUPP") or name in pieces:
            continue
        df = study[name]
        lay = layouts.get(name)
        if not may_exceed(df, lay, limit):
            continue
        widths = frame_widths(df, lay, encoding_of(name))
        cat = category_column(name)
        values = functools.cache(lambda df=df, cat=cat: category_values(df, cat))
        own, said = plan_split(name, list(df.columns), len(df), widths, limit, parent_label_of(name, lay),
                               lambda values=values: values().value_counts().to_dict())
        notes += said
        if not own:
            continue
        pieces[name] = own
        labels = piece_labels(name, list(df.columns), lay)
        del datasets[name]
        for p in own:
            datasets[p.name] = df.iloc[np.flatnonzero((values() == p.category).to_numpy())].reset_index(drop=True)
            layouts[p.name] = piece_layout(lay, df, labels, widths, p.label, encoding_of(name))
        supp = f"SUPP{name}"
        if supp in datasets:
            _split_supp(study, supp, own, values(), datasets, layouts, notes, encoding_of(supp))
    notes += _oversize_supp(datasets, layouts, limit, encoding_of)
    if not pieces:
        return Split(study, {}, notes)
    out = copy.copy(study)
    out.datasets = datasets
    new_pkg = dataclasses.replace(pkg, layouts=layouts) if isinstance(pkg, Package) else Package(layouts)
    out.meta = dataclasses.replace(study.meta, package=new_pkg)
    supp_labels = {n: layouts[n].label for n in out.names if n.startswith("SUPP") and n in layouts}
    return Split(out, pieces, notes, supp_labels)


def piece_labels(name: str, columns: list[str], lay: DatasetLayout | None) -> dict[str, str]:
    """Variable labels of a piece: its parent's (a package's own over the SDTM metadata's)."""
    return {**variable_labels(name, columns), **(dict(lay.labels) if lay else {})}


def _oversize_supp(datasets: dict[str, pd.DataFrame], layouts: dict[str, DatasetLayout], limit: int,
                   encoding_of: Callable[[str], str]) -> list[str]:
    """A SUPP-- dataset (whole or a piece) still over the limit: it is split only with its parent, so say so."""
    return oversize_supp_notes({n: xpt_size(len(df), frame_widths(df, layouts.get(n), encoding_of(n)))
                                for n, df in datasets.items()
                                if n.startswith("SUPP") and may_exceed(df, layouts.get(n), limit)}, limit)


def may_exceed(df: pd.DataFrame, lay: DatasetLayout | None, limit: int) -> bool:
    """Whether the dataset's XPT file could be over `limit` bytes: with every text variable at XPT v5's 200
    bytes (check_fits refused longer values) or its package's own length, numbers the package holds as text
    among them (as_package_states), it is not, and measuring its values (a pass over every one) is not needed."""
    least = lay.lengths if lay else {}
    as_text = {c for c, kind in lay.types.items() if kind == "text"} if lay else set()
    widest = {str(c): 8 if pd.api.types.is_numeric_dtype(df[c]) and str(c) not in as_text
              else max(MAX_VALUE_BYTES, int(least.get(str(c), 0))) for c in df.columns}
    return xpt_size(len(df), widest) > limit


def oversize_supp_notes(sizes: dict[str, int], limit: int) -> list[str]:
    """The note on each SUPP-- dataset (whole or a piece; name -> XPT bytes) over the limit, by name."""
    return [f"{name}: the XPT file is {sizes[name]:,} bytes, over --max-file-size {limit:,}; a SUPP-- dataset "
            f"is split only with its parent domain's pieces; written whole" for name in sorted(sizes)
            if sizes[name] > limit]


def _piece_label(parent_label: str, category: str) -> str:
    """Laboratory Test Results - Chemistry (Define-XML Description; the XPT label keeps its 40 characters)."""
    return f"{parent_label} - {category.strip().title()}" if category.strip() else f"{parent_label} - No Category"


def piece_layout(lay: DatasetLayout | None, df: pd.DataFrame, labels: dict[str, str], widths: dict[str, int],
                  label: str, encoding: str) -> DatasetLayout:
    """The whole dataset's layout under the piece's label: same order, labels and storage lengths."""
    text_widths = {c: w for c, w in widths.items() if not pd.api.types.is_numeric_dtype(df[c])}
    if lay is not None:
        return dataclasses.replace(lay, labels=labels, label=label[:40], lengths=text_widths)
    return DatasetLayout(source="", columns=tuple(df.columns), labels=labels, label=label[:40], lengths=text_widths,
                         encoding=encoding)


def _split_supp(study: Study, supp: str, own: list[Piece], values: pd.Series, datasets: dict[str, pd.DataFrame],
                layouts: dict[str, DatasetLayout], notes: list[str], encoding: str) -> None:
    """SUPPLB -> SUPPLBCH, ...: each record goes with the parent record it qualifies (USUBJID + --SEQ)."""
    df = study[supp]
    target = supp_targets(study[own[0].parent], values, own, df)
    lost = np.flatnonzero(target < 0)
    if len(lost):
        notes.append(lost_note(supp, own, len(lost), lost[:5].tolist()))
        target[lost] = 0
    lay = layouts.get(supp)
    widths = frame_widths(df, lay, encoding)
    labels = piece_labels(supp, list(df.columns), lay)
    del datasets[supp]
    for i, p in enumerate(own):
        rows = np.flatnonzero(target == i)
        if len(rows):
            name = f"SUPP{p.name}"
            datasets[name] = df.iloc[rows].reset_index(drop=True)
            layouts[name] = piece_layout(lay, df, labels, widths, supp_piece_label(p), encoding)


def supp_targets(parent: pd.DataFrame, values: pd.Series, own: list[Piece], supp: pd.DataFrame) -> np.ndarray:
    """The piece (index in `own`; -1: none) of each SUPP-- record: that of the parent record it qualifies
    (USUBJID + --SEQ). `values`: the parent rows' --CAT values. Works on all rows or on one subject partition
    of both (a subject's records are all in one partition)."""
    seq = f"{own[0].parent}SEQ"
    where: dict[tuple[str, str], int] = {}
    for i, p in enumerate(own):
        rows = parent[(values == p.category).to_numpy()]
        for subj, s in zip(rows["USUBJID"].astype(str), rows[seq], strict=True):
            where[(subj, _seq_text(s))] = i
    idvar = supp["IDVAR"].astype(str) if "IDVAR" in supp.columns else pd.Series("", index=supp.index)
    idval = supp["IDVARVAL"].astype(str).str.strip() if "IDVARVAL" in supp.columns else \
        pd.Series("", index=supp.index)
    return np.array([where.get((u, v), -1) if var == seq else -1
                     for u, var, v in zip(supp["USUBJID"].astype(str), idvar, idval, strict=True)], dtype=np.int64)


def lost_note(supp: str, own: list[Piece], count: int, first: list[int]) -> str:
    """The note on SUPP-- records that qualify no parent record (`first`: 0-based rows of the first five)."""
    parent = own[0].parent
    return (f"{supp}: {count} record(s) (rows {', '.join(str(i + 1) for i in first)}) do not qualify a {parent} "
            f"record by {parent}SEQ; they go with {own[0].name}")


def supp_piece_label(piece: Piece) -> str:
    """SUPPLBCH's dataset label (the XPT label: at most 40 characters)."""
    return mappings.dataset_label("SUPP" + piece.name)[:40]


def _seq_text(value: object) -> str:
    """--SEQ as IDVARVAL writes it (1, not 1.0)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value).strip()
    return str(int(f)) if f.is_integer() else str(f)


def parent_of(ds: str, df: pd.DataFrame) -> str:
    """The dataset a split piece is part of, as SDTMIG 4.1.7 names it: LBCH with DOMAIN = LB -> LB,
    SUPPLBCH with RDOMAIN = LB -> SUPPLB; any other dataset is itself (a package read back keeps its pieces)."""
    supp = ds.startswith("SUPP")
    col, code = ("RDOMAIN", ds[4:]) if supp else ("DOMAIN", ds)
    if col not in df.columns or not len(df) or not 2 < len(code) <= 4:
        return ds
    values = pd.unique(df[col].astype(object))
    dom = values[0] if len(values) == 1 else None
    if not isinstance(dom, str) or not re.fullmatch(r"[A-Z]{2}", dom) or not code.startswith(dom):
        return ds
    return f"SUPP{dom}" if supp else dom


def remove_stale_pieces(written: list[Path]) -> list[str]:
    """Remove, from each XPT folder just written, the split pieces (or the whole file) of a dataset that this run
    wrote the other way: LBCH/LBHE/LBTM left by an earlier run at a lower --max-file-size beside today's lb.xpt
    (or lb.xpt beside today's pieces) would be read as a second LB (6,603 findings of LBSEQ occurring twice on a
    60-subject study). One note per folder names what was removed."""
    notes = []
    by_folder: dict[Path, set[str]] = {}
    for path in written:
        if path.suffix.lower() == ".xpt":
            by_folder.setdefault(path.parent, set()).add(path.stem.upper())
    for folder, now in sorted(by_folder.items()):
        domains = {_domain_code(name) for name in now}
        stale = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".xpt" and p.stem.upper() not in now
                       and _is_piece_or_parent(p.stem.upper()) and _domain_code(p.stem.upper()) in domains
                       and _says_its_domain(p))
        for path in stale:
            path.unlink()
        if stale:
            touched = {_domain_code(p.stem.upper()) for p in stale}
            instead = ", ".join(sorted(f"{n.lower()}.xpt" for n in now if _domain_code(n) in touched))
            notes.append(f"{folder}: removed {', '.join(p.name for p in stale)}, left by an earlier run: the same "
                         f"data, split another way, as this run's {instead}")
    return notes


def _domain_code(name: str) -> str:
    """LBCH -> LB, SUPPLBCH -> SUPPLB: the domain a dataset name is (or is a piece of), by its name."""
    return f"SUPP{name[4:6]}" if name.startswith("SUPP") else name[:2]


def _says_its_domain(path: Path) -> bool:
    """Whether the file's first record names the domain its name gives (DOMAIN LB in lbch.xpt and lb.xpt, RDOMAIN
    LB in supplbch.xpt), as SDTMIG 4.1.7 pieces do: a sponsor's own dataset that only looks like one is kept."""
    from msc_interop.sdtm.xpt_read import read_xport_columns

    try:
        first, _ = read_xport_columns(path, rows=(0, 1))
    except Exception:  # not a file this tool reads: not ours to remove
        return False
    return parent_of(path.stem.upper(), first) == _domain_code(path.stem.upper())


def _is_piece_or_parent(name: str) -> bool:
    base = name[4:] if name.startswith("SUPP") else name
    return 2 <= len(base) <= 4 and bool(re.fullmatch(r"[A-Z]{2}[A-Z0-9]{0,2}", base))
