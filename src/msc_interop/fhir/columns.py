"""Resources of one type held column-wise, and written as JSON text without a dict per resource.

Why: a lab Observation is ~1.8 KB of JSON, almost all of it repeated between rows (one `code` per test, one
`subject` per subject, one `effectiveDateTime` per visit). Building a dict per row and serialising it row by
row is what made writing slow: Python work per row, and a fresh bytes object per resource. Here a chunk of
resources is a list of `Element`s, each with its distinct values and, per row, which value it takes. Each
distinct value is serialised once with orjson (so escaping is orjson's), each row's JSON is the concatenation
of its elements' fragments (adjacent ones merged where they have few combinations), and the chunk's text is
handed to the kernel as pieces (fhir/io.py). Per-row strings (ids,
identifier values) are written from their distinct parts (subject, --SEQ) when they have them, else encoded in
bulk when they need no escape.

The bytes are exactly `orjson.dumps` of the dict the row stands for (keys in element order): orjson writes
`{"a":1,"b":2}` with no whitespace, so the text of an object is `{` + `"key":value` pairs joined by `,` + `}`.
`resources()` gives those dicts back (for findings and tests).

Validation uses the same structure (`FastValidator.errors_columns`): each distinct key set once, each distinct
element value once; see fhir/validate.py for why that equals validating every resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from msc_interop.fhir.common import group_codes, text

# Stands for the per-row string in the template of a text element (Element.text).
SLOT = "\x00msc-interop slot\x00"

# Rows per chunk of lab Observations. Measured at 1M rows (bench_fhir.py, interleaved runs): 100,000 was
# ~20% faster than 25,000 (pandas' per-call costs paid 4x less often) and 5-10% faster than 50,000 or
# 250,000. A chunk is held as columns and written as pieces (no joined copy of its ~200 MB of text).
CHUNK_ROWS = 100_000

# Adjacent fragment columns are merged when they have at most this many distinct combinations per row of the
# chunk: joining fewer, longer pieces per row is what keeps the final join fast.
FUSE_RATIO = 0.25


@dataclass
class Element:
    """One element over the rows of a chunk: row i holds `values[codes[i]]`, or no element where codes[i] < 0.

    `names`, when given, is the element name per value (a choice element such as value[x]: valueQuantity for
    one value, valueCodeableConcept for another); otherwise every value is written under `name`.
    `template`, when given, makes a text element: each value is a string that takes the place of SLOT in the
    template (an identifier made per row is one template and a string per row, not a dict per row).
    """

    name: str
    codes: np.ndarray
    values: list[Any]
    names: list[str] | None = None
    template: Any = None
    per_row: bool = False  # one value per row, in row order (an id, an identifier's value)
    # Per-row strings made of two parts, (heads, head code per row, tails, tail code per row): string i is
    # heads[head_codes[i]] + tails[tail_codes[i]]. Written from the distinct parts (see `columns`).
    parts: tuple[list[str], np.ndarray, list[str], np.ndarray] | None = None

    @classmethod
    def constant(cls, name: str, value: Any, n: int) -> Element:
        return cls(name, np.zeros(n, dtype=np.int64), [value])

    @classmethod
    def per_row_values(cls, name: str, values: list[Any], parts: Any = None) -> Element:
        return cls(name, np.arange(len(values), dtype=np.int64), values, per_row=True, parts=parts)

    @classmethod
    def text(cls, name: str, template: Any, strings: list[str], parts: Any = None) -> Element:
        """One string per row, each put in place of SLOT in `template` (which holds SLOT once)."""
        slot_path(template)
        return cls(name, np.arange(len(strings), dtype=np.int64), strings, template=template, per_row=True,
                   parts=parts)

    @classmethod
    def shared(cls, name: str, codes: np.ndarray, values: Sequence[Any]) -> Element:
        """Element from per-row codes into distinct `values`, where a None value means "no element"."""
        keep = np.array([v is not None for v in values], dtype=bool)
        remap = np.full(len(values) + 1, -1, dtype=np.int64)
        remap[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
        codes = np.asarray(codes, dtype=np.int64)
        return cls(name, remap[codes] if len(codes) else codes, [v for v in values if v is not None])

    @classmethod
    def choice(cls, codes: np.ndarray, pairs: Sequence[tuple[str, Any] | None], name: str) -> Element:
        """A choice element from distinct (element name, value) pairs, None meaning "no element"."""
        e = cls.shared(name, codes, [p[1] if p is not None else None for p in pairs])
        e.names = [p[0] for p in pairs if p is not None]
        return e

    def name_of(self, k: int) -> str:
        return self.names[k] if self.names is not None else self.name

    def value(self, k: int) -> Any:
        """The element's k-th distinct value as written (a text element's string put into its template)."""
        return self.values[k] if self.template is None else fill(self.template, self.values[k])

    def used(self) -> np.ndarray:
        """Indexes of the values some row holds."""
        return np.flatnonzero(np.bincount(self.codes[self.codes >= 0], minlength=len(self.values)))

    def fragments(self) -> list[bytes]:
        """`,"name":<orjson text of the value>` per distinct value."""
        if self.names is not None:
            return [b',"' + name.encode() + b'":' + orjson.dumps(v) for name, v in zip(self.names, self.values,
                                                                                       strict=True)]
        head, tail = self._around_value()
        return [head + orjson.dumps(v) + tail for v in self.values]

    def _around_value(self) -> tuple[bytes, bytes]:
        """The text before and after a value: `,"name":` and nothing, or for a text element the template's
        text around SLOT (orjson writes each string on its own, so that text is the same for every string)."""
        head = b',"' + self.name.encode() + b'":'
        if self.template is None:
            return head, b""
        pre, post = orjson.dumps(self.template).split(orjson.dumps(SLOT))
        return head + pre, post

    def columns(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The element's text as fragment columns (see `ResourceColumns.fragments`).

        Per-row strings that orjson writes without escapes (ids, identifier values: the usual case) are not
        serialised one by one: they are encoded in bulk, between a constant head and tail column.
        """
        if self.per_row and self.names is None:
            if self.parts is not None:
                from_parts = self._columns_of_parts()
                if from_parts is not None:
                    return from_parts
            raw = _unescaped(self.values)
            if raw is not None:
                head, tail = self._around_value()
                n = len(self.codes)
                return [constant_column(n, head + b'"'), (self.codes, _object_array(raw)),
                        constant_column(n, b'"' + tail)]
        frags = self.fragments()
        return [(np.where(self.codes >= 0, self.codes, len(frags)), _object_array([*frags, b""]))]

    def _columns_of_parts(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Per-row strings written as two columns of distinct pieces (a head per subject, a tail per --SEQ):
        no text made per row. orjson escapes character by character, so when no part needs an escape, the
        text of each string is the concatenation of its parts' UTF-8 (None otherwise: written the usual way)."""
        heads, head_codes, tails, tail_codes = self.parts  # type: ignore[misc]
        head_bytes, tail_bytes = _unescaped(heads), _unescaped(tails)
        if head_bytes is None or tail_bytes is None:
            return None
        head, tail = self._around_value()
        return [(np.asarray(head_codes, dtype=np.int64), _object_array([head + b'"' + h for h in head_bytes])),
                (np.asarray(tail_codes, dtype=np.int64), _object_array([t + b'"' + tail for t in tail_bytes]))]


def _unescaped(strings: list[Any]) -> list[bytes] | None:
    """The UTF-8 of each string when orjson writes every one of them as it is (no escape), else None.

    Checked and encoded in bulk: orjson escapes character by character, so when the concatenation of the
    strings is written without an escape, so is each of them (and none holds "\\x00", the split mark).
    """
    if not strings:
        return []
    try:
        joined = "".join(strings)
        if orjson.dumps(joined) != b'"' + joined.encode() + b'"':
            return None
    except (TypeError, UnicodeEncodeError):  # not all strings: serialised one by one (and refused there)
        return None
    return "\x00".join(strings).encode().split(b"\x00")


def slot_path(template: Any) -> tuple[str | int, ...]:
    """Where SLOT sits in a template: the keys and list positions leading to it (it must be there once)."""
    found: list[tuple[str | int, ...]] = []

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        if node == SLOT:
            found.append(path)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(template, ())
    if len(found) != 1:
        raise ValueError(f"a text element's template must hold SLOT once, not {len(found)} times")
    return found[0]


def fill(template: Any, text: str) -> Any:
    """The template with `text` in place of SLOT."""
    if template == SLOT:
        return text
    if isinstance(template, dict):
        return {k: fill(v, text) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, text) for v in template]
    return template


@dataclass
class ResourceColumns:
    """A chunk of resources of one type as `Element`s in the order their keys are written."""

    resource_type: str
    n: int
    elements: list[Element]

    @property
    def ids(self) -> list[str]:
        e = self.element("id")
        return [e.values[c] for c in e.codes.tolist()]

    def element(self, name: str) -> Element:
        return next(e for e in self.elements if e.name == name)

    def shapes(self) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """Per row the index of its key set, and the distinct key sets (keys in written order)."""
        # only elements absent from some rows or with a name per value make key sets differ
        state = [np.where(e.codes >= 0, _name_index(e) + 1, 0) for e in self.elements
                 if e.names is not None or (e.codes < 0).any()]
        if not state:
            state = [np.zeros(self.n, dtype=np.int64)]
        codes, first = group_codes(*state)
        shapes = [tuple(e.name_of(int(e.codes[i])) for e in self.elements if e.codes[i] >= 0) for i in first]
        return codes, shapes

    def fragments(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The rows' JSON text as columns of (per-row codes, distinct byte fragments), few columns per row.

        Row i's JSON is the concatenation over the columns of `fragments[codes[i]]`. Each element gives
        `,"name":<orjson of the value>` (b"" where absent); adjacent columns with few distinct combinations
        are merged into one (FUSE_RATIO).
        """
        runs: list[_Run] = []
        limit = max(1, int(self.n * FUSE_RATIO))
        for e in self.elements:
            for col in e.columns():
                if not (runs and runs[-1].extend(col, limit)):
                    runs.append(_Run(col))
        cols = [run.column() for run in runs]
        if cols:  # the first element opens the object: its "," becomes "{"
            codes, frags = cols[0]
            cols[0] = (codes, _object_array([b"{" + f[1:] for f in frags]))
        return cols

    def ndjson_parts(self) -> list[bytes]:
        """The chunk as NDJSON (one resource per line) in pieces: their concatenation is the text."""
        return row_parts(self.n, [*self.fragments(), constant_column(self.n, b"}\n")])

    def ndjson(self) -> bytes:
        """The chunk as NDJSON: one resource per line."""
        return b"".join(self.ndjson_parts())

    def lines(self) -> list[bytes]:
        return self.ndjson().splitlines()

    def resources(self) -> list[dict[str, Any]]:
        """The resources as dicts (parsed from the text, so exactly what is written)."""
        return [orjson.loads(x) for x in self.lines()]

    def dicts(self) -> list[dict[str, Any]]:
        """The resources as dicts that share the element values, as a dict-per-row builder makes them (for
        the benchmark's baselines and for tests: `orjson.dumps` of each is its line of `ndjson()`)."""
        columns = []
        for e in self.elements:
            pairs: list[tuple[str, Any] | None] = [(e.name_of(k), e.value(k)) for k in range(len(e.values))]
            pairs.append(None)  # code -1: no element
            columns.append([pairs[c] for c in e.codes.tolist()])
        return [dict(p for p in row if p is not None) for row in zip(*columns, strict=True)]


def _name_index(e: Element) -> np.ndarray | int:
    if e.names is None:
        return 0
    _, idx = np.unique(np.array(e.names, dtype=object), return_inverse=True)
    return np.append(idx, 0)[e.codes]


def _object_array(items: list[bytes]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def constant_column(n: int, text: bytes) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype=np.int64), _object_array([text])


class _Run:
    """Adjacent fragment columns merged into one: per row the index of its combination of their fragments.

    Merging stops at a column that would give more than `limit` combinations (per-row columns: ids); each
    combination's fragment is made once, when the run is closed (`column`)."""

    def __init__(self, col: tuple[np.ndarray, np.ndarray]):
        self.codes, self.k = col[0], len(col[1])
        self.members = [col]

    def extend(self, col: tuple[np.ndarray, np.ndarray], limit: int) -> bool:
        """Merge `col` into the run when the combinations stay at most `limit`."""
        kb = len(col[1])
        if self.k > limit or kb > limit:
            return False
        joint = self.codes * kb + col[0]
        if self.k * kb <= 4 * len(joint):  # the combinations that occur, from a table of all (no hashing)
            seen = np.zeros(self.k * kb, dtype=bool)
            seen[joint] = True
            codes, k = (np.cumsum(seen) - 1)[joint], int(seen.sum())
        else:
            codes, uniques = pd.factorize(joint)
            k = len(uniques)
        if k > limit:
            return False
        self.codes, self.k = np.asarray(codes, dtype=np.int64), k
        self.members.append(col)
        return True

    def column(self) -> tuple[np.ndarray, np.ndarray]:
        """(per-row codes, fragment per combination): each combination joined from the members' fragments
        at the first row that has it."""
        if len(self.members) == 1:
            return self.members[0]
        first = np.zeros(self.k, dtype=np.int64)
        first[self.codes[::-1]] = np.arange(len(self.codes) - 1, -1, -1)
        pieces = [frags[codes[first]].tolist() for codes, frags in self.members]
        return self.codes, _object_array([b"".join(t) for t in zip(*pieces, strict=True)])


def row_parts(n: int, columns: list[tuple[np.ndarray, np.ndarray]]) -> list[bytes]:
    """Row by row, the fragment each column gives the row: the chunk's text is their concatenation."""
    if n == 0:
        return []
    table = np.empty((n, len(columns)), dtype=object)
    for j, (codes, frags) in enumerate(columns):
        table[:, j] = frags[codes]
    return table.ravel().tolist()


def per_row_column(items: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """A fragment column with one fragment per row (urn, request line of a Bundle entry)."""
    return np.arange(len(items), dtype=np.int64), _object_array(items)


class Factorized:
    """The columns of a chunk of a dataset, each hashed once into per-row codes and distinct values.

    Hashing the strings of a column is the main cost of working column-wise; the element builders ask for
    the same columns again and again (USUBJID for the subject, the encounter, the study day...), so each is
    factorized once per chunk and every question is answered on the distinct values. Missing values (None,
    NaN) are one distinct value; a column the dataset lacks reads as all "".
    """

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.n = len(df)
        self._codes: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._missing_code: dict[str, int] = {}

    def series(self, name: str) -> pd.Series:
        if name in self.df.columns:
            return self.df[name]
        return pd.Series("", index=self.df.index, dtype=object)

    def codes(self, name: str) -> tuple[np.ndarray, list[str]]:
        """Per-row codes and the distinct values as text ("" for missing; two codes may have the same text)."""
        found = self._codes.get(name)
        if found is None:
            # missing values as a sentinel, then one more distinct value: about twice as fast on text
            codes, uniques = pd.factorize(self.series(name))
            codes = np.asarray(codes, dtype=np.int64)
            values = [text(u) for u in uniques]
            missing = codes < 0
            if missing.any():
                codes[missing] = self._missing_code[name] = len(values)
                values.append("")
            found = (codes, values)
            self._codes[name] = found
        return found

    def missing(self, name: str) -> np.ndarray:
        """Per row, whether the value is missing (None, NaN), not merely ""."""
        codes, _ = self.codes(name)
        return codes == self._missing_code.get(name, -1)

    def texts(self, name: str) -> np.ndarray:
        """The column as per-row text ("" for missing), an object array."""
        codes, values = self.codes(name)
        return _object_array(values)[codes] if self.n else np.zeros(0, dtype=object)

    def differs(self, name: str, expected: str) -> np.ndarray:
        """Per row, whether the column's text is not `expected` (compared once per distinct value)."""
        codes, values = self.codes(name)
        return np.array([v != expected for v in values], dtype=bool)[codes] if self.n else np.zeros(0, dtype=bool)

    def differs_by_code(self, name: str, codes: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Per row, whether the column's text is not `expected[codes[row]]` (`codes`: the rows' groups, such as
        their visits): compared once per distinct (group, value) pair."""
        mine, values = self.codes(name)
        pairs, first = group_codes(codes, mine)
        texts = _object_array(values)[mine[first]] if len(first) else np.zeros(0, dtype=object)
        return (texts != expected[codes[first]])[pairs] if self.n else np.zeros(0, dtype=bool)

    def blank(self, name: str) -> np.ndarray:
        codes, values = self.codes(name)
        return np.array([v == "" for v in values], dtype=bool)[codes] if self.n else np.zeros(0, dtype=bool)

    def group(self, *names: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-row codes of the combinations of values of `names`, and the first row of each combination."""
        return group_codes(*(self.codes(name)[0] for name in names))

    def distinct_texts(self, *names: str) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """Per-row codes of the combinations of `names` and each combination as texts."""
        codes, first = self.group(*names)
        columns = [self.codes(name) for name in names]
        return codes, [tuple(values[c[i]] for c, values in columns) for i in first.tolist()]
