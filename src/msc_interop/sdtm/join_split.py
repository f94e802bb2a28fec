"""Put the pieces of a split dataset back together (LBCH, LBHE, LBTM with DOMAIN = LB -> LB; SUPPLBCH -> SUPPLB).

A package split by --max-file-size (sdtm/split.py, SDTMIG 4.1.7) is read back as its files: `validate` checks
each piece as its domain and names the files. The commands that analyse or convert a domain (summary, to-adam,
to-fhir) need the domain whole: without this they would see no LB at all. The rows come in the order of the
whole dataset (USUBJID, then --SEQ, as to-sdtm writes it; pieces keep their rows' order), a piece's storage
lengths are its parent's, so the pieces put together are the dataset cell for cell (tests/sdtm/test_join_split.py).
"""

from __future__ import annotations

import copy

import pandas as pd

from msc_interop.sdtm.split import parent_of
from msc_interop.study import Study, conform


def join_split_pieces(study: Study) -> tuple[Study, list[str]]:
    """`study` with each split dataset whole again, and one note per dataset put together (none: as it was).
    A dataset present both whole and in pieces is left as it is (the note says so): which would be right?"""
    groups: dict[str, list[str]] = {}
    for name in study.names:
        groups.setdefault(parent_of(name, study.datasets[name]), []).append(name)
    joined = {parent: names for parent, names in groups.items() if names != [parent]}
    if not joined:
        return study, []
    out = copy.copy(study)
    out.datasets = dict(study.datasets)
    out.sources = dict(study.sources)
    notes = []
    for parent, names in sorted(joined.items()):
        if parent in names:
            notes.append(f"{parent} is both whole and split ({', '.join(n for n in names if n != parent)}): "
                         f"read as separate datasets; keep one")
            continue
        out.datasets[parent] = _together([study.datasets[n] for n in names], parent)
        for name in names:
            del out.datasets[name]
            out.sources.pop(name, None)
        files = [study.sources.get(n, n) for n in names]
        out.sources[parent] = ", ".join(files)
        notes.append(f"{parent}: read from its split datasets {', '.join(names)} ({', '.join(files)}; SDTMIG 4.1.7)")
    out.datasets = {name: out.datasets[name] for name in sorted(out.datasets)}
    return out, notes


def _together(frames: list[pd.DataFrame], parent: str) -> pd.DataFrame:
    """The pieces in the whole dataset's order, typed as the parent: by USUBJID and --SEQ where the pieces have
    them (SUPP--: by USUBJID), stable (a piece's own order kept); else one piece after another."""
    df = pd.concat(frames, ignore_index=True)
    keys = ["USUBJID"] if parent.startswith("SUPP") else ["USUBJID", f"{parent}SEQ"]
    if "USUBJID" in df.columns:
        df = df.sort_values([k for k in keys if k in df.columns], kind="stable", ignore_index=True)
    return conform(parent, df)  # the parent's variable types (a piece's name is not in the SDTM metadata)
