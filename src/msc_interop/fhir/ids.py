"""Stable resource ids and references (never random).

Records (LB, AE, EX) are named by their natural key, not by --SEQ (`natural_ids`): `lb-<study8>-<USUBJID>-<h>`
where h is 16 hex of SHA-256 over STUDYID, domain and the values of the key variables of
mappings/fhir_identity.yaml (subject, test, visit, time point, date, specimen, repetition for findings;
subject, term, start for events and interventions). --SEQ is a row number: removing one result renumbers the
rest, and a reload would then put results under other records' ids (issue 16). study8 is 8 hex of SHA-1 of
STUDYID, so two studies never share an id; when USUBJID is not id-safe or the id would pass 64 characters,
the subject part is `h<16 hex of SHA-1>` or left out. FHIR ids match [A-Za-z0-9\\-\\.]{1,64}. A `urn:uuid`
(UUID v5 of the resource's type/id) names each resource inside a Bundle.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid

import numpy as np
import pandas as pd

from msc_interop import mappings
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


def identity_keys(domain: str) -> list[str]:
    """The variables that name a record of `domain` (mappings/fhir_identity.yaml)."""
    return list(mappings.fhir_identity()["identity_keys"][domain])


def natural_ids(prefix: str, studyid: str, df: pd.DataFrame, domain: str,
                hex_digits: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Ids of the rows of one domain from their natural key, and what went wrong with it (messages).

    Rows sharing every key value are told apart by their order (a `#n` suffix on the key for the n-th) and
    reported; two different keys hashing to one id (a hash collision, never seen at 64 bits but checked)
    are reported and those rows get the key's full SHA-256 instead. `hex_digits` is for tests.
    """
    n = len(df)
    if n == 0:
        return np.zeros(0, dtype=object), []
    hex_digits = hex_digits or int(mappings.fhir_identity()["id_hash_hex"])
    cols = [c for c in identity_keys(domain) if c in df.columns]
    head = f"{studyid}|{domain}|"
    keys = [head + "|".join(t) for t in zip(*(_key_texts(df[c]) for c in cols), strict=True)]
    notes: list[str] = []
    repeated_mask = pd.Series(keys).duplicated().to_numpy()
    if repeated_mask.any():
        occurrence = pd.Series(keys).groupby(keys, sort=False).cumcount().to_numpy()
        repeated = np.flatnonzero(repeated_mask)
        for i in repeated.tolist():
            keys[i] = f"{keys[i]}#{occurrence[i] + 1}"
        first = int(repeated[0])
        notes.append(f"{domain}: {len(repeated)} record(s) share every identity variable "
                     f"({', '.join(cols)}) with an earlier record (first: row {first + 1}, "
                     f"USUBJID {df['USUBJID'].iloc[first]}); they are told apart by their order, so their "
                     "FHIR ids change if that order changes")
    heads = f"{prefix}-{study_key(studyid)}-" + subject_parts(df["USUBJID"].astype(object)).to_numpy(dtype=object) + "-"
    sha = hashlib.sha256
    ids = heads + np.array([sha(k.encode("utf-8")).hexdigest()[:hex_digits] for k in keys], dtype=object)
    _shorten(ids, keys, hex_digits, prefix, studyid)
    clash = pd.Series(ids).duplicated(keep=False).to_numpy()
    if clash.any():
        rows = np.flatnonzero(clash)
        notes.append(f"{domain}: {len(rows)} record(s) with different identity keys hashed to the same id "
                     f"(first: row {int(rows[0]) + 1}); they get ids from the full SHA-256 of their key")
        for i in rows.tolist():
            ids[i] = heads[i] + sha(keys[i].encode("utf-8")).hexdigest()
        _shorten(ids, keys, 64, prefix, studyid)
    return ids, notes


def _key_texts(col: pd.Series) -> list[str]:
    """A key variable as text per row: numbers without a trailing `.0`, "" where missing, `|` escaped (per
    distinct value: a --DTC with times has hundreds of thousands)."""
    return per_distinct(lambda u: pd.Series([_key_text(v) for v in u.tolist()], dtype=object),
                        col.astype(object)).tolist()


def _key_text(v: object) -> str:
    if type(v) is str:  # most values: text needing no escape
        return v.replace("\\", "\\\\").replace("|", "\\|") if "|" in v or "\\" in v else v
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).replace("\\", "\\\\").replace("|", "\\|")


def _shorten(ids: np.ndarray, keys: list[str], hex_digits: int, prefix: str, studyid: str) -> None:
    """Ids over 64 characters (a long subject part) become `prefix-study8-h<hash>` (the subject left out)."""
    lengths = np.fromiter(map(len, ids.tolist()), dtype=np.int64, count=len(ids))
    width = min(hex_digits + 8, 64 - 12 - len(prefix))
    for i in np.flatnonzero(lengths > 64).tolist():
        ids[i] = f"{prefix}-{study_key(studyid)}-h{hashlib.sha256(keys[i].encode('utf-8')).hexdigest()[:width]}"


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
