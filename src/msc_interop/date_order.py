"""The order of right-truncated ISO 8601 dates (dates.certainly_before and the validate rules MSC-SDTM-012/027/034),
and the shared analysis of their shapes to the second (define.xml's ISO 8601 kinds, dates.dtc_hints): column-wise
over the distinct values, found once per distinct array within distinct.shared_columns(). Split from dates.py
(re-exported there)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_interop import iso8601
from msc_interop.distinct import column_answer


def certainly_before(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> np.ndarray:
    """Per pair: True where date/time text `a` is certainly before `b`, compared at the precision both share
    (both right-truncated ISO 8601, as text to the shorter's length: "2020-03" is before "2020-04-01", not
    before "2020-03-15"). Anything else (empty, not text, a missing middle part) is never before.

    Vectorised (the rules compared pairs one by one in Python: a third of a second per dataset of EX, SV or
    MH pairs): the pattern is matched on the distinct values, the prefixes compared per shared length."""
    a_codes, a_u = pd.factorize(np.asarray(a, dtype=object), use_na_sentinel=False)
    b_codes, b_u = pd.factorize(np.asarray(b, dtype=object), use_na_sentinel=False)
    return certainly_before_codes(a_codes, np.asarray(a_u, dtype=object), b_codes, np.asarray(b_u, dtype=object),
                                  cache=False)


def certainly_before_codes(a_codes: np.ndarray, a_u: np.ndarray, b_codes: np.ndarray, b_u: np.ndarray, *,
                           cache: bool = True) -> np.ndarray:
    """certainly_before(a_u[a_codes], b_u[b_codes]) from distinct values and the rows' codes (a column's, known:
    no factorization). Values of the common shapes are compared as integers of their digits cut to the shared
    precision; the rest (a fraction of a second, a non-ASCII digit) as text. `cache`: each distinct array's
    analysis is kept within distinct.shared_columns() (the rules ask about the same columns several times)."""
    a_len, a_plain, a_key = _truncated_keys(a_u, cache)
    b_len, b_plain, b_key = _truncated_keys(b_u, cache)
    if not len(a_codes):
        return np.zeros(0, dtype=bool)
    shared = np.minimum(a_len[a_codes], b_len[b_codes])  # 0 where either is not right-truncated text
    plain = a_plain[a_codes] & b_plain[b_codes]
    out = np.zeros(len(shared), dtype=bool)
    if plain.all():
        scale = _SCALE[shared]
        return a_key[a_codes] // scale < b_key[b_codes] // scale
    if plain.any():
        scale = _SCALE[shared[plain]]
        out[plain] = a_key[a_codes[plain]] // scale < b_key[b_codes[plain]] // scale
    rest = np.flatnonzero(~plain & (shared > 0))
    if len(rest):
        a_text, b_text, a_n, b_n = a_u[a_codes[rest]], b_u[b_codes[rest]], a_len[a_codes[rest]], b_len[b_codes[rest]]
        k_rest = shared[rest]
        for k in np.unique(k_rest).tolist():
            at = np.flatnonzero(k_rest == k)
            left = a_text[at] if a_n[at].max() == k else np.array([v[:k] for v in a_text[at].tolist()], dtype=object)
            right = b_text[at] if b_n[at].max() == k else np.array([v[:k] for v in b_text[at].tolist()], dtype=object)
            out[rest[at]] = left < right
    return out


_TRUNCATED_SHAPE = "dddd-dd-ddTdd:dd:dd"  # right-truncated ISO 8601 to the second: cut after 4, 7, 10, 13, 16, 19
_DIGITS_AT = [i for i, c in enumerate(_TRUNCATED_SHAPE) if c == "d"]  # the 14 digits' places
# per shared length (a shape's: 4, 7, ... 19), what divides a 14-digit key to the digits of that prefix
_SCALE = np.array([10 ** (14 - sum(1 for i in _DIGITS_AT if i < k)) for k in range(20)], dtype=np.int64)


def _truncated_keys(u: np.ndarray, cache: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value: (its length where it is right-truncated ISO 8601 text, else 0; whether it has one of
    the common shapes (_truncated_forms); its digits as one integer zero-padded to 14 digits: two such values'
    prefixes of one shape length order as their keys cut to that length do)."""
    if cache:
        return column_answer(u, "truncated_keys", lambda: _keys_of(u, True))
    return _keys_of(u, False)


def _keys_of(u: np.ndarray, cache: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.zeros(len(u), dtype=np.int64)
    plain = np.zeros(len(u), dtype=bool)
    key = np.zeros(len(u), dtype=np.int64)
    if pd.api.types.infer_dtype(u, skipna=False) == "string":  # all text: the common shapes column-wise
        _all, unsure, forms = _truncated_forms_of(u, cache)
        for n, rows, part in forms:
            lengths[rows] = n
            plain[rows] = True
            at = [i for i in _DIGITS_AT if i < n]
            key[rows] = (part[:, at] - 48) @ (10 ** np.arange(13, 13 - len(at), -1, dtype=np.int64))
    else:
        unsure = np.array([isinstance(v, str) for v in u.tolist()], dtype=bool)
    for i in np.flatnonzero(unsure).tolist():  # by the pattern itself (a fraction of a second, a non-ASCII digit)
        lengths[i] = len(u[i]) if iso8601.RIGHT_TRUNCATED.match(u[i]) else 0
    return lengths, plain, key


def _truncated_forms_of(u: np.ndarray, cache: bool = True
                        ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, np.ndarray, np.ndarray]]]:
    """_truncated_forms of distinct values, found once per array within distinct.shared_columns() (define.xml's
    DataTypes, MSC-SDTM-006's hints and the date order of MSC-SDTM-012 read the same columns' distinct values)."""
    return column_answer(u, "truncated_forms", lambda: _truncated_forms(u)) if cache else _truncated_forms(u)


def truncated_shape_lengths(u: np.ndarray) -> np.ndarray:
    """Per text value (all str): n where it is exactly "dddd-dd-ddTdd:dd:dd"[:n] (ASCII digits at the d, n one of
    4, 7, 10, 13, 16, 19), else 0; shared as _truncated_forms_of is."""
    out = np.zeros(len(u), dtype=np.int64)
    for n, rows, _part in _truncated_forms_of(u)[2]:
        out[rows] = n
    return out


def _truncated_forms(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[int, np.ndarray, np.ndarray]]]:
    """The right-truncated ISO 8601 shapes to the second, column-wise over text values: (each value's length; the
    values left for a pattern: non-ASCII in the first 19 characters (\\d matches other digits), longer than 19 (a
    fraction of a second) or ending in a newline ("$" passes one); per shape length n, (n, the rows of that
    length whose characters have the shape, their first n code points as integers))."""
    lengths = np.fromiter(map(len, u.tolist()), dtype=np.int64, count=len(u))
    head = u.astype("U19").view(np.uint32).reshape(len(u), 19)
    last = head[np.arange(len(u)), np.clip(lengths - 1, 0, 18)]
    unsure = (lengths > 19) | (head >= 128).any(axis=1) | ((lengths > 0) & (last == 10))
    forms = []
    for n in (4, 7, 10, 13, 16, 19):
        rows = np.flatnonzero((lengths == n) & ~unsure)
        part = head[rows, :n].astype(np.int64)
        ok = np.ones(len(rows), dtype=bool)
        for i, want in enumerate(_TRUNCATED_SHAPE[:n]):
            ok &= ((part[:, i] >= 48) & (part[:, i] <= 57)) if want == "d" else (part[:, i] == ord(want))
        if ok.any():
            forms.append((n, rows[ok], part[ok]))
    return lengths, unsure, forms
