"""XPT v5: the limits are enforced before writing (nothing truncated, nothing half-written) and a written
file reads back, through pyreadstat itself, to the same Study data."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from msc_interop import mappings
from msc_interop.errors import InputError, OutputLimitError
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.xpt import read_xpt, sas_datetime, write_xpt, xpt_problems
from msc_interop.study import Study, conform

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study() -> Study:
    built, _ = build_study(read_records(REPO / "fixtures" / "example_study"))
    return built


@pytest.fixture
def lb(study: Study) -> pd.DataFrame:
    return study["LB"].head(5).copy()


def _refused(df: pd.DataFrame, name: str, tmp_path: Path, **kwargs) -> OutputLimitError:
    target = tmp_path / f"{name.lower()}.xpt"
    with pytest.raises(OutputLimitError) as info:
        write_xpt(df, name, target, **kwargs)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [], "no temporary file may be left behind"
    return info.value


def test_round_trip_every_dataset_through_pyreadstat(study: Study, tmp_path: Path) -> None:
    for name in study.names:
        path = tmp_path / f"{name.lower()}.xpt"
        write_xpt(study[name], name, path)
        # read with pyreadstat directly: the file is what SAS tools see
        raw, meta = pyreadstat.read_xport(str(path))
        assert meta.table_name == name
        domain = mappings.sdtm_domain(name)
        assert domain is not None
        expected_label = domain.label if not name.startswith("SUPP") else f"Supplemental Qualifiers for {name[4:]}"
        assert meta.file_label == expected_label
        assert meta.column_names_to_labels == {v: domain.by_name[v].label for v in study[name].columns}
        assert list(raw.columns) == list(study[name].columns)
        back_name, back = read_xpt(path)
        assert back_name == name
        pd.testing.assert_frame_equal(conform(name, back), study[name])


def test_integer_with_missing_is_written_as_float_nan(study: Study, tmp_path: Path) -> None:
    dm = study["DM"].head(3).copy()
    dm["AGE"] = pd.array([47, None, 51], dtype="Int64")
    write_xpt(dm, "DM", tmp_path / "dm.xpt")
    raw, _ = pyreadstat.read_xport(str(tmp_path / "dm.xpt"))
    assert raw["AGE"].dtype == np.float64
    assert raw["AGE"].iloc[0] == 47.0 and np.isnan(raw["AGE"].iloc[1])
    assert raw["DTHDTC"].tolist() == ["", "", ""]  # missing text reads back as ""


def test_value_of_201_bytes_is_refused(lb: pd.DataFrame, tmp_path: Path) -> None:
    lb.loc[2, "LBORRES"] = "x" * 201
    err = _refused(lb, "LB", tmp_path)
    (problem,) = err.problems
    for part in ("dataset LB", "variable LBORRES", "row 3", "201 bytes", "200"):
        assert part in problem


def test_200_bytes_fit_but_multibyte_text_counts_bytes(lb: pd.DataFrame, tmp_path: Path) -> None:
    lb.loc[0, "LBORRES"] = "x" * 200
    assert xpt_problems(lb, "LB") == []
    lb.loc[1, "LBORRES"] = "é" * 101  # 101 characters, 202 bytes in UTF-8
    problems = xpt_problems(lb, "LB")
    assert any("row 2 (202 bytes)" in p for p in problems)
    assert any("not ASCII" in p and "row 2" in p for p in problems)


def test_non_ascii_value_is_refused_with_row_and_value(lb: pd.DataFrame, tmp_path: Path) -> None:
    lb.loc[1, "LBORRESU"] = "μmol/L"
    err = _refused(lb, "LB", tmp_path)
    (problem,) = err.problems
    for part in ("dataset LB", "variable LBORRESU", "row 2", "'μmol/L'", "ASCII"):
        assert part in problem


def test_nine_character_variable_name_is_refused(lb: pd.DataFrame, tmp_path: Path) -> None:
    lb = lb.rename(columns={"LBORNRLO": "LBORNRLOW"})
    err = _refused(lb, "LB", tmp_path)
    (problem,) = err.problems
    for part in ("dataset LB", "variable LBORNRLOW", "9 characters", "limit 8"):
        assert part in problem


def test_lower_case_names_are_refused(lb: pd.DataFrame, tmp_path: Path) -> None:
    lb = lb.rename(columns={"LBNAM": "lbnam"})
    problems = _refused(lb, "lb", tmp_path).problems
    assert any("dataset name 'lb'" in p for p in problems)
    assert any("variable name 'lbnam'" in p for p in problems)


def test_label_of_41_characters_is_refused(lb: pd.DataFrame, tmp_path: Path) -> None:
    err = _refused(lb, "LB", tmp_path, labels={"LBORRES": "L" * 41})
    (problem,) = err.problems
    for part in ("dataset LB", "variable LBORRES", "label", "41 characters", "limit 40"):
        assert part in problem
    err = _refused(lb, "LB", tmp_path, label="D" * 41)
    assert "dataset LB: dataset label" in err.problems[0] and "41 characters" in err.problems[0]


def test_every_problem_is_listed_not_only_the_first(lb: pd.DataFrame, tmp_path: Path) -> None:
    lb.loc[0, "LBORRESU"] = "μmol/L"
    lb.loc[4, "LBORRES"] = "y" * 300
    lb = lb.rename(columns={"LBNAM": "LABORATORY"})
    err = _refused(lb, "LB", tmp_path, labels={"LBTEST": "T" * 45})
    assert len(err.problems) == 4
    text = str(err)
    assert "LBORRESU" in text and "row 5 (300 bytes)" in text and "LABORATORY" in text and "LBTEST" in text


def test_many_bad_rows_are_counted_and_the_first_named(lb: pd.DataFrame) -> None:
    big = pd.concat([lb] * 4, ignore_index=True)
    big["LBORRESU"] = "μmol/L"
    (problem,) = xpt_problems(big, "LB")
    assert "20 value(s) not ASCII" in problem and "row 1 'μmol/L'" in problem and "15 more row(s)" in problem


def test_example_study_is_ascii(study: Study) -> None:
    """The records spell μmol/L; the Study holds the CDISC unit umol/L, so XPT can carry it."""
    for name in study.names:
        assert xpt_problems(study[name], name) == [], name


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "ae.xpt"
    bad.write_bytes(b"this is not a SAS transport file" * 10)
    with pytest.raises(InputError, match=r"ae\.xpt"):
        read_xpt(bad)
    with pytest.raises(InputError, match="no such file"):
        read_xpt(tmp_path / "missing.xpt")


def test_reads_cdisc_example(shared_dir: Path) -> None:
    name, df = read_xpt(shared_dir / "external/dataset-json/examples-v1.1/sdtm/lb.xpt")
    assert name == "LB"
    assert df.shape == (3488, 23)
    assert df["LBSEQ"].dtype == np.float64  # XPT has only doubles; conform() makes it Int64
    assert conform(name, df)["LBSEQ"].dtype == "Int64"
    assert df["LBORRESU"].map(type).eq(str).all()


def test_pinned_creation_time_makes_identical_files(study: Study, tmp_path: Path) -> None:
    """XPT headers carry created/modified stamps (normally 'now'); `created` pins them."""
    write_xpt(study["DM"], "DM", tmp_path / "a.xpt", created="2026-01-01T00:00:00")
    time.sleep(1.1)  # a second later: unpinned stamps would differ
    write_xpt(study["DM"], "DM", tmp_path / "b.xpt", created="2026-01-01T00:00:00")
    assert (tmp_path / "a.xpt").read_bytes() == (tmp_path / "b.xpt").read_bytes()
    _, meta = pyreadstat.read_xport(str(tmp_path / "a.xpt"), metadataonly=True)
    assert meta.creation_time == datetime(2026, 1, 1) and meta.modification_time == datetime(2026, 1, 1)
    assert sas_datetime("2009-10-04T09:19:05+08:00") == "04OCT09:09:19:05"
