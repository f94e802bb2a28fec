"""Column-wise resources (fhir/columns.py): the JSON text is exactly orjson's for the same dicts, odd strings
included; the chunked write gives the same bytes whatever the chunk size; and validating column-wise gives
the verdict of validating every resource (models and fast validator) on valid and mutated chunks."""

from __future__ import annotations

import copy
import gc
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from fhir_fixtures import example  # noqa: F401
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_interop.fhir import write_fhir
from msc_interop.fhir.columns import SLOT, Element, Factorized, ResourceColumns
from msc_interop.fhir.common import Carrier, group_codes
from msc_interop.fhir.context import make_context
from msc_interop.fhir.io import BackgroundWrites, BundleWriter, write_parts
from msc_interop.fhir.resources import encounters, lab
from msc_interop.fhir.validate import FastValidator, ModelValidator
from msc_interop.fhir.versions import get_version
from msc_interop.runtime import gc_frozen
from msc_interop.study import Study

ODD = ['He said "hi"', "back\\slash", "tab\there", "new\nline", "ctl\x00\x01\x1f\x7f", "é ü 中文 😀 \U0001f9ec",
       "\u2028", " lead", "trail ", "</script>", "\\u0000", '\\"', ""]


def odd_study(study: Study, seed: int = 7) -> Study:
    """The example study with odd strings in the text columns, an odd subject id, extra columns and SUPPLB."""
    rng = np.random.default_rng(seed)
    lb = study["LB"].copy()
    n = len(lb)
    for col in ("LBTEST", "LBCAT", "LBNAM", "VISIT", "LBSTRESC", "LBORRES"):
        rows = rng.random(n) < 0.3
        lb.loc[rows, col] = [ODD[i] for i in rng.integers(0, len(ODD), int(rows.sum()))]
    lb["LBXNOTE"] = [ODD[i] if i % 3 else None for i in rng.integers(0, len(ODD), n)]
    lb["LBXNUM"] = np.where(rng.random(n) < 0.5, rng.normal(size=n).round(3), np.nan)
    dm = study["DM"].copy()
    weird = 'MSC-SLE-2009-01-"01\\é😀'
    extra = dm.iloc[[0]].copy()
    extra["USUBJID"], extra["SUBJID"] = weird, "w1"
    dm = pd.concat([dm, extra], ignore_index=True)
    lb.loc[lb["USUBJID"] == lb["USUBJID"].iloc[0], "USUBJID"] = weird
    rows = [3, 10, 200, 201]
    supp = pd.DataFrame({"STUDYID": "MSC-SLE-2009", "RDOMAIN": "LB", "USUBJID": lb["USUBJID"].iloc[rows].tolist(),
                         "IDVAR": "LBSEQ", "IDVARVAL": [str(int(x)) for x in lb["LBSEQ"].iloc[rows]],
                         "QNAM": ["LBCOMM", "LBCOMM", "LBFAST", "LBCOMM"],
                         "QLABEL": ["Comment", "Comment", "Fasting", "Comment"],
                         "QVAL": ['odd "q"\\', "x", "Y", "é😀\n"], "QORIG": "CRF", "QEVAL": ""})
    return Study(study.meta, {**study.datasets, "DM": dm, "LB": lb, "SUPPLB": supp})


def chunks(study: Study, version: str = "R4", in_bundle: bool = False, size: int = 100) -> list[ResourceColumns]:
    ctx = make_context(study, get_version(version), study.meta.timezone or "UTC", in_bundle)
    return [encounters.build_encounters(ctx), *lab.build_observations(ctx, size)]


def dumps_of_dicts(chunk: ResourceColumns) -> bytes:
    return b"".join(orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE) for d in chunk.dicts())


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_text_is_orjson_of_the_dicts_with_odd_strings(example: Study, version: str) -> None:  # noqa: F811
    for chunk in chunks(odd_study(example), version):
        text = chunk.ndjson()
        assert text == dumps_of_dicts(chunk)
        assert chunk.resources() == chunk.dicts()
        assert len(text.splitlines()) == chunk.n


def test_ids_written_from_their_parts_are_the_ids(example: Study) -> None:  # noqa: F811
    """Lab identifier values are written from distinct pieces (subject part, --SEQ part) when no part needs an
    escape; else (a quote in USUBJID) as strings. Ids are per-row strings: since they are made from the
    record's natural key (a hash, fhir/ids.py natural_ids) they have no shared parts."""
    lb = example["LB"].copy()
    lb["LBSEQ"] = lb["LBSEQ"].astype("float64")
    lb.loc[lb.index[:2], "LBSEQ"] = [np.nan, -2.0]  # missing and negative --SEQ
    plain = Study(example.meta, {**example.datasets, "LB": lb})
    long_lb = lb.copy()
    long_lb.loc[long_lb.index[:5], "USUBJID"] = "S" * 40  # id-safe, but with a 13-digit --SEQ the ids pass
    long_lb.loc[long_lb.index[:5], "LBSEQ"] = 10.0 ** 12 + np.arange(5)  # 64 characters: those are hashed
    quoted_lb = lb.copy()
    quoted_lb.loc[quoted_lb.index[:5], "USUBJID"] = 'MSC-"Q"'
    # a quote in USUBJID: the id holds a hash of it (id-safe), the identifier value the quote itself
    expected = {"plain": (False, True), "long": (False, True), "quoted": (False, False)}
    for label, study in (("plain", plain), ("long", Study(example.meta, {**example.datasets, "LB": long_lb})),
                         ("quoted", Study(example.meta, {**example.datasets, "LB": quoted_lb}))):
        for k, chunk in enumerate(chunks(study)[1:]):
            id_el, ident = chunk.element("id"), chunk.element("identifier")
            if k == 0:  # the chunk with the changed rows
                assert ((id_el.parts is not None and id_el._columns_of_parts() is not None),
                        ident._columns_of_parts() is not None) == expected[label]
            assert chunk.ndjson() == dumps_of_dicts(chunk), label
            for i, d in enumerate(chunk.dicts()):
                h, hc, t, tc = ident.parts
                assert d["identifier"][0]["value"] == h[hc[i]] + t[tc[i]]


def test_bundle_entries_of_a_column_wise_chunk_equal_those_of_its_dicts(example: Study) -> None:  # noqa: F811
    for bundle_type in ("collection", "transaction"):
        a, b = io.BytesIO(), io.BytesIO()
        wa, wb = BundleWriter(a, bundle_type, "b"), BundleWriter(b, bundle_type, "b")
        for chunk in chunks(odd_study(example), in_bundle=True, size=50):
            wa.add(chunk)
            wb.add(chunk.dicts())
        wa.close()
        wb.close()
        assert a.getvalue() == b.getvalue()
        assert len(orjson.loads(a.getvalue())["entry"]) == wa.count == 494 + len(chunks(odd_study(example))[0].ids)


def test_same_bytes_whatever_the_chunk_size(example: Study, tmp_path: Path) -> None:  # noqa: F811
    study = odd_study(example)
    for size in (25_000, 7):
        write_fhir(study, tmp_path / str(size), version="R4", bundle="transaction", ndjson=True, chunk_size=size)
    for p in sorted((tmp_path / "25000").iterdir()):
        assert p.read_bytes() == (tmp_path / "7" / p.name).read_bytes(), p.name


odd_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(odd_text, min_size=1, max_size=6), per_row=st.lists(odd_text, min_size=1, max_size=6))
def test_any_string_is_escaped_as_orjson_escapes_it(values: list[str], per_row: list[str]) -> None:
    n = len(per_row)
    codes = np.arange(n) % len(values)
    chunk = ResourceColumns("Observation", n, [
        Element.constant("resourceType", "Observation", n),
        Element.per_row_values("id", per_row),
        Element.shared("code", codes, [{"text": v, "coding": [{"display": v}]} for v in values]),
        Element.text("identifier", [{"system": "urn:x", "value": SLOT}], per_row),
        Element.choice(codes, [("valueString", v) if i % 2 else None for i, v in enumerate(values)], "value[x]"),
    ])
    assert chunk.ndjson() == dumps_of_dicts(chunk)


def test_group_codes_are_groupby_ngroup_and_first_rows() -> None:
    rng = np.random.default_rng(1)
    a = pd.Series(rng.choice(np.array(["x", "y", None, "", "z"], dtype=object), 300), dtype=object)
    b = pd.Series(rng.choice(np.array([1.0, 2.0, np.nan]), 300))
    codes, first = group_codes(a, b)
    frame = pd.DataFrame({"a": a, "b": b})
    expected = frame.groupby(["a", "b"], sort=False, dropna=False).ngroup().to_numpy()
    assert (codes == expected).all()
    assert first.tolist() == frame.drop_duplicates().index.tolist()


def test_carrier_gives_one_extension_per_distinct_combination() -> None:
    carrier = Carrier(6, "UTC")
    carrier.add("X", pd.Series(["a", "a", "", "b", "a", None], dtype=object), np.array([1, 1, 1, 1, 0, 1], bool))
    carrier.add("N", pd.Series([1, 1, 2, 1, 1, 1], dtype="Int64"), np.array([0, 0, 1, 0, 0, 0], bool))
    codes, values = carrier.distinct()
    per_row = carrier.extensions()
    assert codes.tolist() == [0, 0, 1, 2, -1, 3] and per_row[4] is None
    assert [per_row[i] for i in (0, 1, 2, 3, 5)] == [values[c] for c in (0, 0, 1, 2, 3)]
    assert values[1]["extension"] == [{"url": "N", "valueInteger": 2}, {"url": "empty", "valueString": "X"}]
    assert values[3]["extension"] == [{"url": "empty", "valueString": "X"}]


def test_factorized_columns_read_missing_values_as_empty_text() -> None:
    cols = Factorized(pd.DataFrame({"A": pd.Series(["x", None, "x", np.nan, ""], dtype=object)}))
    assert cols.texts("A").tolist() == ["x", "", "x", "", ""]
    assert cols.blank("A").tolist() == [False, True, False, True, True]
    assert cols.texts("NOPE").tolist() == [""] * 5
    codes, combos = cols.distinct_texts("A", "NOPE")
    assert [combos[c] for c in codes] == [("x", ""), ("", ""), ("x", ""), ("", ""), ("", "")]


def test_background_writes_keep_order_and_hand_back_errors(tmp_path: Path) -> None:
    with open(tmp_path / "a", "wb") as fh, BackgroundWrites(depth=1) as bg:
        for i in range(50):
            bg.write(fh, b"%d\n" % i)
    assert (tmp_path / "a").read_bytes() == b"".join(b"%d\n" % i for i in range(50))
    fh = open(tmp_path / "b", "wb")  # noqa: SIM115
    fh.close()
    with pytest.raises(ValueError, match="closed file"), BackgroundWrites() as bg:
        bg.write(fh, b"x")


def test_pieces_are_written_in_order_with_writev_or_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    pieces = [b"%d," % i for i in range(3000)]  # more than one writev call (IOV_MAX pieces each)
    expected = b"".join(pieces)
    with open(tmp_path / "a", "wb") as fh:
        fh.write(b"head;")  # buffered bytes before the pieces stay before them
        write_parts(fh, pieces)
        fh.write(b";tail")
    assert (tmp_path / "a").read_bytes() == b"head;" + expected + b";tail"
    buffer = io.BytesIO()  # no file descriptor: the pieces are joined
    write_parts(buffer, pieces)
    assert buffer.getvalue() == expected

    real_writev = os.writev
    monkeypatch.setattr(os, "writev", lambda fd, bufs: real_writev(fd, bufs[:1]))  # a short write every time
    with open(tmp_path / "b", "wb") as fh:
        write_parts(fh, pieces)
    assert (tmp_path / "b").read_bytes() == expected


def test_pieces_reach_the_kernel_in_calls_of_at_most_a_write_piece(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """writev calls carry about atomic.WRITE_PIECE bytes (as PacedFileIO's writes: its docstring says why); a
    piece bigger than that is written in slices; the bytes arrive in order."""
    from msc_interop.atomic import WRITE_PIECE

    sizes: list[int] = []
    real_writev, real_write = os.writev, os.write
    monkeypatch.setattr(os, "writev", lambda fd, bufs: sizes.append(sum(map(len, bufs))) or real_writev(fd, bufs))
    monkeypatch.setattr(os, "write", lambda fd, b: sizes.append(len(b)) or real_write(fd, b))
    pieces = [bytes([65 + i % 26]) * (i * 97 % 5000) for i in range(400)]
    pieces.insert(200, b"z" * (3 * WRITE_PIECE + 5))  # one piece over three write pieces
    with open(tmp_path / "a", "wb") as fh:
        write_parts(fh, pieces)
    assert (tmp_path / "a").read_bytes() == b"".join(pieces)
    assert max(sizes) <= WRITE_PIECE and sum(sizes) == sum(map(len, pieces))
    assert len(sizes) < 2 * sum(map(len, pieces)) / WRITE_PIECE + 4  # full calls, not a piece a call


def test_gc_frozen_freezes_only_when_nothing_else_has() -> None:
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    with gc_frozen():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= 50_000
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with gc_frozen():
            pass
        assert gc.get_freeze_count() == before  # someone else's freeze is left as it was
    finally:
        gc.unfreeze()


# --- validating column-wise = validating every resource --------------------------------------------------

def _replace(name: str, make: Callable[[Element, int], Element | None]) -> Callable[[ResourceColumns], None]:
    """A mutation that replaces element `name` (or adds it before the last element when absent)."""
    def mutate(chunk: ResourceColumns) -> None:
        for i, e in enumerate(chunk.elements):
            if e.name == name:
                new = make(e, chunk.n)
                if new is None:
                    del chunk.elements[i]
                else:
                    chunk.elements[i] = new
                return
        new = make(Element(name, np.full(chunk.n, -1), []), chunk.n)  # absent in every row until made
        assert new is not None
        chunk.elements.insert(len(chunk.elements) - 1, new)
    return mutate


def _constant(name: str, value: Any) -> Callable[[ResourceColumns], None]:
    return _replace(name, lambda e, n: Element.constant(name, value, n))


def _first_row(name: str, value: Any) -> Callable[[ResourceColumns], None]:
    """Element `name` gets `value` in the first row only (all other rows keep theirs)."""
    def make(e: Element, n: int) -> Element:
        codes = e.codes.copy()
        codes[0] = len(e.values)
        return Element(e.name, codes, [*e.values, value], None if e.names is None else [*e.names, e.name],
                       e.template)
    return _replace(name, make)


def _per_row_text(name: str, text: str) -> Callable[[ResourceColumns], None]:
    """A text element's string in the first row only."""
    def make(e: Element, n: int) -> Element:
        values = list(e.values)
        values[int(np.flatnonzero(e.codes == e.codes[0])[0])] = text
        return Element(e.name, e.codes, values, e.names, e.template)
    return _replace(name, make)


COLUMN_MUTATIONS: list[tuple[str, Callable[[ResourceColumns], None]]] = [
    ("unknown element", _constant("foo", 1)),
    ("number for a string", _first_row("id", 5)),
    ("id with a space", _first_row("id", "has space")),
    ("empty id", _first_row("id", "")),
    ("required status missing", _replace("status", lambda e, n: None)),
    ("null", _constant("status", None)),
    ("unknown nested element", _constant("meta", {"foo": 1})),
    ("dateTime without offset", _first_row("meta", {"lastUpdated": "2009-10-04T09:19"})),
    ("30 February", _constant("meta", {"lastUpdated": "2009-02-30T09:19:00Z"})),
    ("extension with two values", _first_row("extension", [{"url": "http://x", "valueString": "a",
                                                            "valueCode": "b"}])),
    ("extension without url", _first_row("extension", [{"valueString": "a"}])),
    ("empty object", _constant("meta", {})),
    ("empty list", _first_row("extension", [])),
    ("string for a list", _first_row("extension", "x")),
    ("unknown contained resource type", _first_row("contained", [{"resourceType": "Nope", "id": "x"}])),
    ("code with leading space", _constant("language", " en")),
    ("boolean for a uri", _constant("implicitRules", True)),
    ("empty string in a text element's place", _per_row_text("identifier", "")),
    ("a string of only a line separator in a text element's place", _per_row_text("identifier", "\u2028")),
    ("a status outside its value set (neither checks)", _constant("status", "done")),
]

# Known difference, not of the column-wise path: the R5 JSON Schema's `string` is any non-empty text, the R5 models
# also refuse a string of Unicode whitespace only (R4B's schema refuses it too).
MODELS_STRICTER = {("R5", "Observation", "a string of only a line separator in a text element's place")}


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_column_wise_validation_agrees_with_the_models(example: Study, version: str) -> None:  # noqa: F811
    spec = get_version(version)
    fast, models = FastValidator(spec), ModelValidator(spec)
    base = chunks(example, version, size=60)[:2]  # the Encounters and one chunk of Observations
    checked = 0
    for chunk0 in base:
        assert fast.errors_columns(chunk0) == {}
        for name, mutate in COLUMN_MUTATIONS:
            chunk = copy.deepcopy(chunk0)
            mutate(chunk)
            by_columns = fast.errors_columns(chunk)
            resources = chunk.resources()
            by_models = {i for i, r in enumerate(resources) if models.errors(r)}
            by_resource = {i for i, r in enumerate(resources) if fast.full_errors(r)}
            assert set(by_columns) == by_resource, f"{name} on {chunk.resource_type}: by columns, whole"
            if (version, chunk.resource_type, name) in MODELS_STRICTER:
                assert by_models and not by_resource, name
            else:
                assert by_resource == by_models, f"{name} on {chunk.resource_type}: fast, models"
            checked += 1
    assert checked == 2 * len(COLUMN_MUTATIONS)


def test_findings_of_a_column_wise_chunk_name_the_resource(example: Study, tmp_path: Path,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    build = lab.build_chunk

    def broken(ctx: Any, start: int, stop: int) -> ResourceColumns:
        chunk = build(ctx, start, stop)
        if start == 42:  # the second chunk: its first Observation gets an empty identifier value
            _per_row_text("identifier", "")(chunk)
        return chunk

    monkeypatch.setattr(lab.write, "build_chunk", broken)  # where build_observations looks it up
    result = write_fhir(example, tmp_path, bundle="none", ndjson=True, chunk_size=42)
    assert [(f.file, f.position, f.resource_type) for f in result.findings] == [
        ("Observation.ndjson", 43, "Observation")]
    assert "identifier[0].value" in result.findings[0].message
    line = (tmp_path / "Observation.ndjson").read_bytes().splitlines()[42]
    assert orjson.loads(line)["id"] == result.findings[0].resource_id


# --- the context's per-visit table, worked on codes --------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_encounter_table_gives_each_visit_its_most_frequent_visit_name(example: Study, seed: int  # noqa: F811
                                                                       ) -> None:
    """VISIT/EPOCH per (USUBJID, VISITNUM): the value most rows hold, the first in text order on a tie,
    subjects and values that are missing not counted; every LB row points at its own visit's row."""
    from msc_interop.fhir.context import encounter_table

    rng = np.random.default_rng(seed)
    n = 400
    pick = lambda options: [options[i] for i in rng.integers(0, len(options), n)]  # noqa: E731
    lb = pd.DataFrame({"USUBJID": pd.Series(pick(["S1", "S2", "S3", None, ""]), dtype=object),
                       "VISITNUM": pick([1.0, 2.0, 3.5, np.nan]),
                       "VISIT": pd.Series(pick(["WEEK 1", "Week 1", "DAY 0", "", None, "B"]), dtype=object),
                       "EPOCH": pd.Series(pick(["TREATMENT", "FOLLOW-UP", None]), dtype=object)})
    study = Study(example.meta, {"LB": lb})
    lb = study["LB"]  # as the Study holds it (missing text may read as "")
    ctx = make_context(study, get_version("R4"), "UTC", in_bundle=False)
    table, rows = encounter_table(study, ctx)
    assert len(table) == len(lb[lb["VISITNUM"].notna()].drop_duplicates(["USUBJID", "VISITNUM"]))

    keyed = lb[lb["VISITNUM"].notna()]
    for (u, v), group in keyed.groupby(["USUBJID", "VISITNUM"], dropna=False, sort=False):
        row = table[(table["USUBJID"].isna() if u is None or u != u else table["USUBJID"] == u)
                    & (table["VISITNUM"] == v)]
        assert len(row) == 1
        for col in ("VISIT", "EPOCH"):
            counted = group[col].dropna() if u is not None and u == u else group[col].iloc[0:0]
            got = row[col].iloc[0]
            if counted.empty:
                assert got != got  # NaN: nothing to count
                continue
            counts = counted.value_counts()
            assert got == min(counts[counts == counts.max()].index)
    for i in range(n):  # each LB row's visit row holds its subject and VISITNUM (-1 where VISITNUM is missing)
        if lb["VISITNUM"].iloc[i] != lb["VISITNUM"].iloc[i]:
            assert rows[i] == -1
        else:
            assert table["VISITNUM"].iloc[rows[i]] == lb["VISITNUM"].iloc[i]
            u, t = lb["USUBJID"].iloc[i], table["USUBJID"].iloc[rows[i]]
            assert (u is None and t is None) or u == t
