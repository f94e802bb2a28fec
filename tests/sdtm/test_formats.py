"""The format registry: Study -> files -> Study is lossless in every format, deterministic, and all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_interop.errors import InputError, MscInteropError, OutputLimitError, UnknownFormatError
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.formats import FORMATS, get_format, read_sdtm, write_study
from msc_interop.study import VISIT_COLUMNS, Study

REPO = Path(__file__).resolve().parents[2]
CREATED = "2026-01-01T00:00:00"


@pytest.fixture(scope="module")
def study() -> Study:
    built, _ = build_study(read_records(REPO / "fixtures" / "example_study"))
    return built


def _assert_same_data(a: Study, b: Study) -> None:
    assert a.names == b.names
    for name in a.names:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def test_registry() -> None:
    assert {k: v.suffix for k, v in FORMATS.items()} == {
        "xpt": ".xpt", "json": ".json", "ndjson": ".ndjson", "csv": ".csv"}
    suffix, writer, reader = get_format("json")  # (suffix, writer, reader)
    assert suffix == ".json" and callable(writer) and callable(reader)
    with pytest.raises(UnknownFormatError, match=r"'sas7bdat'.*xpt, json, ndjson, csv"):
        get_format("sas7bdat")


def test_unknown_format_writes_nothing(study: Study, tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="choose from xpt, json, ndjson, csv"):
        write_study(study, tmp_path / "out", ["json", "parquet"])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_through_each_format(study: Study, tmp_path: Path, fmt: str) -> None:
    paths = write_study(study, tmp_path, [fmt], created=CREATED)
    assert [p.name for p in paths] == [f"{n.lower()}{FORMATS[fmt].suffix}" for n in study.names]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no leftovers
    back = read_sdtm(tmp_path)
    _assert_same_data(study, back)
    assert back.meta.studyid == study.meta.studyid


def test_meta_rebuilt_from_the_data(study: Study, tmp_path: Path) -> None:
    write_study(study, tmp_path, ["json"], created=CREATED)
    back = read_sdtm(tmp_path)
    visits = back.meta.visits
    assert list(visits.columns) == VISIT_COLUMNS
    expected = study.meta.visits[["VISITNUM", "VISIT", "EPOCH"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(visits[["VISITNUM", "VISIT", "EPOCH"]], expected, check_dtype=False)
    assert visits["aliases"].tolist() == [()] * len(visits)
    given = read_sdtm(tmp_path, meta=study.meta)
    assert given.meta is study.meta


def test_same_study_same_bytes_in_every_format(study: Study, tmp_path: Path) -> None:
    first = write_study(study, tmp_path / "a", list(FORMATS), created=CREATED)
    second = write_study(study, tmp_path / "b", list(FORMATS), created=CREATED)
    assert len(first) == len(FORMATS) * len(study.names)
    for p, q in zip(first, second, strict=True):
        assert p.name == q.name
        assert p.read_bytes() == q.read_bytes(), p.name


def test_folder_reader_prefers_json_then_ndjson_then_xpt_then_csv(study: Study, tmp_path: Path) -> None:
    write_study(study, tmp_path, list(FORMATS), created=CREATED)
    # spoil every lower-preference file: the data are read from the JSON, the others only counted (a copy that
    # cannot be read is named, not fatal: test_dataset_in_two_formats.py for copies that differ)
    for suffix in (".ndjson", ".xpt"):
        for p in tmp_path.glob(f"*{suffix}"):
            p.write_bytes(b"spoiled")
    for p in tmp_path.glob("*.csv"):  # ("spoiled" is a CSV of no records: copies that differ, refused)
        p.unlink()
    again = read_sdtm(tmp_path)
    _assert_same_data(study, again)
    assert "AE from ae.json; ae.ndjson could not be read to count its records" in again.reading_notes[0]
    for p in tmp_path.glob("*.json"):
        p.unlink()
    with pytest.raises(InputError, match=r"\.ndjson"):
        read_sdtm(tmp_path)


def test_xpt_problems_of_all_datasets_come_together_and_nothing_is_written(study: Study, tmp_path: Path) -> None:
    lb = study["LB"].copy()
    lb.loc[6, "LBORRESU"] = "μmol/L"
    ae = study["AE"].copy()
    ae.loc[0, "AETERM"] = "dizziness " * 21  # 210 bytes
    bad = Study(study.meta, {**study.datasets, "LB": lb, "AE": ae})
    out = tmp_path / "out"
    with pytest.raises(OutputLimitError) as info:  # ASCII asked for: the FDA's rule (default: UTF-8 with a note)
        write_study(bad, out, ["json", "csv", "xpt"], created=CREATED, xpt_encoding="ascii")
    problems = info.value.problems
    assert len(problems) == 2
    assert any("dataset AE, variable AETERM" in p and "row 1 (210 bytes)" in p for p in problems)
    assert any("dataset LB, variable LBORRESU" in p and "row 7 'μmol/L'" in p for p in problems)
    assert not out.exists() or list(out.iterdir()) == []
    # the same study is fine for formats without those limits
    assert len(write_study(bad, out, ["json", "csv"], created=CREATED)) == 2 * len(bad.names)


def test_a_failing_writer_leaves_no_file(study: Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def broken(df: pd.DataFrame, name: str, path: Path, meta: object, created: object) -> None:
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full")
        path.write_text("partial")

    monkeypatch.setitem(FORMATS, "csv", FORMATS["csv"]._replace(writer=broken))
    # an output that cannot be written is a message naming it (exit 2), not an internal error
    # the third dataset in name order (ae, cm, dm since the example study has CM)
    with pytest.raises(MscInteropError, match=r"cannot write .*dm\.csv: disk full"):
        write_study(study, tmp_path, ["csv"])
    assert list(tmp_path.iterdir()) == []


def test_single_file(study: Study, tmp_path: Path) -> None:
    write_study(study, tmp_path, ["xpt"], created=CREATED)
    one = read_sdtm(tmp_path / "lb.xpt")
    assert one.names == ["LB"]
    pd.testing.assert_frame_equal(one["LB"], study["LB"])


def test_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        read_sdtm(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no SDTM dataset files"):
        read_sdtm(tmp_path)
    with pytest.raises(InputError, match=r"notes\.txt: not an SDTM dataset file"):
        read_sdtm(tmp_path / "notes.txt")
    (tmp_path / "dm.json").write_text("{broken")
    with pytest.raises(InputError, match=r"dm\.json"):
        read_sdtm(tmp_path)


def test_reads_the_cdisc_example_folder(shared_dir: Path) -> None:
    study = read_sdtm(shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm")
    assert study.names == ["AE", "CM", "DM", "EX", "LB", "TS", "VS"]
    assert study.meta.studyid == "CDISCPILOT01"
    assert len(study["LB"]) == 3488 and study["LB"]["LBSEQ"].dtype == "Int64"
    assert study.meta.title  # from TS TITLE
    assert study.meta.visits["VISITNUM"].is_monotonic_increasing and len(study.meta.visits) > 5


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_dataset_without_records_round_trips(study: Study, tmp_path: Path, fmt: str) -> None:
    """A study without adverse events still has an AE dataset: 0 rows, all its variables."""
    no_ae = Study(study.meta, {**study.datasets, "AE": study["AE"].iloc[0:0]})
    write_study(no_ae, tmp_path, [fmt], created=CREATED)
    back = read_sdtm(tmp_path)
    pd.testing.assert_frame_equal(back["AE"], no_ae["AE"])
    assert list(back["AE"].columns) == list(study["AE"].columns)


def test_data_that_does_not_fit_sdtm_names_the_file(study: Study, tmp_path: Path) -> None:
    write_study(study, tmp_path, ["csv"], created=CREATED)
    text = (tmp_path / "lb.csv").read_text(encoding="utf-8")
    (tmp_path / "lb.csv").write_text(text.replace("LBNAM", "lbnam", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"^lb\.csv: dataset LB: variable names \['lbnam'\]"):
        read_sdtm(tmp_path)


def test_studyids_of_text_and_of_mixed_values():
    """STUDYID as the study metadata reads it: trimmed text; values of mixed types each their own text (a
    factorization of 1, 1.0 and True would make them one)."""
    from msc_interop.sdtm.formats import studyids_in

    assert studyids_in(pd.DataFrame({"STUDYID": [" MSC-1 ", "MSC-1", None, ""]})) == {"MSC-1"}
    assert studyids_in(pd.DataFrame({"STUDYID": pd.Series([1, 1.0, True, None], dtype=object)})) == \
        {"1", "1.0", "True"}
    assert studyids_in(pd.DataFrame({"USUBJID": ["a"]})) == set()


def test_a_filtered_dataset_with_gaps_in_its_index_loses_no_row(study, tmp_path):
    """A dataset handed over filtered (its index 0, 1, 3, ...) is taken by row position: before, the rows whose
    label was past the new length were lost and as many blank rows written in their place."""
    ex = study.datasets["EX"]
    kept = ex[ex["USUBJID"].ne(ex["USUBJID"].iloc[0])]  # every subject's infusions but the first subject's
    assert not kept.index.equals(pd.RangeIndex(len(kept)))
    d = {n: (kept if n == "EX" else df) for n, df in study.datasets.items()}
    write_study(Study(study.meta, d), tmp_path, ["xpt"], created="2026-01-01T00:00:00")
    back = read_sdtm(tmp_path)["EX"]
    assert len(back) == len(kept) and back["USUBJID"].ne("").all()
    assert back["EXSTDTC"].tolist() == kept["EXSTDTC"].tolist()


def test_studyid_values_from_distinct_values_are_the_rows_own() -> None:
    """_studyid_values (each row's STUDYID text, its first row) worked out on the distinct values gives what a
    factorization of every row's stripped text gives; mixed values (1, 1.0, True) are kept apart."""
    from msc_interop.sdtm.formats import _studyid_values, studyid_text

    rng = np.random.default_rng(2)
    pool = np.array(["S1", " S1", "S2 ", None, "", "S3"], dtype=object)
    for column in (pd.Series(pool[rng.integers(0, len(pool), 400)], dtype=object),
                   pd.Series([1, 1.0, "A", True, None, "A "], dtype=object)):
        codes, values, firsts = _studyid_values(column)
        text = studyid_text(column).tolist()
        assert [values[c] for c in codes] == text
        assert sorted(values) == sorted(set(text)) and len(values) == len(set(text))
        assert firsts.tolist() == [text.index(v) for v in values]
