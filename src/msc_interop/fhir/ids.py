"""Stable resource ids and references, derived from STUDYID, USUBJID, domain and --SEQ (never random).

Readable where the parts allow: `lb-<study8>-<USUBJID>-<LBSEQ>` (study8: 8 hex of SHA-1 of STUDYID, so two
studies never share an id); when USUBJID is not id-safe or the id would pass 64 characters, the subject part
is `h<16 hex of SHA-1>`. FHIR ids match [A-Za-z0-9\\-\\.]{1,64}. A `urn:uuid` (UUID v5 of the resource's
type/id) names each resource inside a Bundle.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid

import numpy as np
import pandas as pd

from msc_interop.distinct import per_distinct
from msc_interop.fhir import terms

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_SAFE = re.compile(r"^[A-Za-z0-9\-.]{1,40}$")


def digest(text: str, n: int = 16) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


@functools.cache
def study_key(studyid: str) -> str:
    return digest(studyid, 8)


def safe_part(text: str) -> str:
    """`text` itself when it is id-safe and short, else `h` + 16 hex of its SHA-1."""
    return text if _SAFE.match(text) else "h" + digest(text)


def subject_parts(usubjid: pd.Series) -> pd.Series:
    return per_distinct(lambda u: u.map(lambda x: safe_part(str(x))).astype(object), usubjid)


def record_ids(prefix: str, studyid: str, usubjid: pd.Series, seq: pd.Series, domain: str) -> np.ndarray:
    """Ids `prefix-study8-subject-seq` for the rows of one domain (vectorised; hash fallback when too long).

    Rows without --SEQ get `n<row number>` so that ids stay unique.
    """
    return record_id_parts(prefix, studyid, usubjid, seq, domain)[0]


IdParts = tuple[list[str], np.ndarray, list[str], np.ndarray]


def record_id_parts(prefix: str, studyid: str, usubjid: pd.Series, seq: pd.Series, domain: str
                    ) -> tuple[np.ndarray, IdParts | None]:
    """`record_ids`, and how they are made: (heads, head code per row, tails, tail code per row) with each
    row's id = heads[head code] + tails[tail code] (None when some id had to be hashed instead). The parts
    let a writer serialise the distinct pieces instead of every id (fhir/columns.py)."""
    sk = study_key(studyid)
    codes, subjects = pd.factorize(usubjid, use_na_sentinel=False)
    codes = np.asarray(codes, dtype=np.int64)
    heads = [f"{prefix}-{sk}-{safe_part(str(u))}-" for u in subjects]
    tail_codes, tails = _seq_text_codes(seq)
    ids = np.array(heads, dtype=object)[codes] + np.array(tails, dtype=object)[tail_codes] if len(codes) \
        else np.zeros(0, dtype=object)
    lengths = np.array([len(h) for h in heads] + [0], dtype=np.int64)[codes] \
        + np.array([len(t) for t in tails] + [0], dtype=np.int64)[tail_codes]
    too_long = np.flatnonzero(lengths > 64)
    for i in too_long:
        ids[i] = f"{prefix}-{sk}-h" + digest(f"{studyid}|{usubjid.iloc[i]}|{domain}|{ids[i][len(heads[codes[i]]):]}",
                                             24)
    return ids, (None if len(too_long) else (heads, codes, tails, tail_codes))


def seq_texts(seq: pd.Series) -> np.ndarray:
    """--SEQ as text for identifiers ("" when missing)."""
    codes, texts = seq_text_codes(seq)
    return np.array(texts, dtype=object)[codes] if len(codes) else np.array([], dtype=object)


def seq_text_codes(seq: pd.Series) -> tuple[np.ndarray, list[str]]:
    """`seq_texts` as per-row codes into the distinct texts."""
    num = pd.to_numeric(seq, errors="coerce")
    values = num.to_numpy(dtype="float64", na_value=np.nan)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    texts = ["" if v != v else str(int(v)) if float(v).is_integer() else repr(float(v)) for v in uniques]
    return np.asarray(codes, dtype=np.int64), texts


def _seq_text_codes(seq: pd.Series) -> tuple[np.ndarray, list[str]]:
    """--SEQ as the tail of a record id, per row as a code into distinct texts: the number ("-" as "m"), or
    `n<row number>` where it is missing (one text per such row)."""
    num = pd.to_numeric(seq, errors="coerce")
    present = num.notna().to_numpy()
    values = num.to_numpy(dtype="float64", na_value=np.nan)
    out = np.empty(len(seq), dtype=np.int64)
    codes, uniques = pd.factorize(values[present], use_na_sentinel=False)
    texts = [str(int(v)) if float(v).is_integer() else repr(float(v)).replace("-", "m") for v in uniques]
    out[present] = codes
    missing = np.flatnonzero(~present)
    out[missing] = len(texts) + np.arange(len(missing))
    texts += ["n" + str(i + 1) for i in missing]
    return out, texts


def simple_id(prefix: str, studyid: str, *parts: str) -> str:
    """Id of a study-level resource: `prefix-study8[-part...]`, hashed parts when not id-safe."""
    text = "-".join([prefix, study_key(studyid), *(safe_part(p) for p in parts)])
    return text if ID_PATTERN.match(text) else f"{prefix}-{study_key(studyid)}-h{digest('|'.join(parts), 24)}"


def simple_ids(prefix: str, studyid: str, *parts: pd.Series) -> list[str]:
    """`simple_id(prefix, studyid, *row parts)` for every row of the part columns (text), vectorised: the
    id-safe form of each part is worked out once per distinct value."""
    n = len(parts[0]) if parts else 0
    out = np.full(n, f"{prefix}-{study_key(studyid)}", dtype=object)
    for part in parts:
        out = out + "-" + subject_parts(part.astype(object)).to_numpy(dtype=object)
    ok = np.fromiter(map(bool, map(ID_PATTERN.match, out)), dtype=bool, count=n)
    for i in np.flatnonzero(~ok).tolist():
        out[i] = simple_id(prefix, studyid, *(str(part.iloc[i]) for part in parts))
    return out.tolist()


@functools.cache
def namespace() -> uuid.UUID:
    """UUID v5 namespace of msc-interop's Bundle entries: uuid5(NAMESPACE_URL, base_url of fhir_mapping.yaml)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, terms.base_url())


def urn(resource_type: str, resource_id: str) -> str:
    """fullUrl of a Bundle entry: stable for the same type and id (UUID v5)."""
    return f"urn:uuid:{uuid.uuid5(namespace(), f'{resource_type}/{resource_id}')}"


class Refs:
    """How references are written: `Type/id` (NDJSON, Bulk Data) or the entry's `urn:uuid` (inside a Bundle)."""

    def __init__(self, in_bundle: bool):
        self.in_bundle = in_bundle
        self._cache: dict[tuple[str, str], str] = {}

    def __call__(self, resource_type: str, resource_id: str) -> str:
        key = (resource_type, resource_id)
        ref = self._cache.get(key)
        if ref is None:
            ref = urn(resource_type, resource_id) if self.in_bundle else f"{resource_type}/{resource_id}"
            self._cache[key] = ref
        return ref
