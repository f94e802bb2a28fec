"""A records folder loaded by two processes (sdtm/load_in_two.py) gives the study a one-process load gives.

The oracle is the one-process load of the same folder: every file to-sdtm writes (XPT, Dataset-JSON, CSV,
define.xml, the reject report) byte for byte, the validation findings, the notes and the per-form counts; on
the bundled study and on synthetic records whose rows are shuffled and seeded with defects each half must
report once (an exact duplicate, a subject not in subjects.csv, a blank line, a value spanning lines, a column
not of the form, non-ASCII text in both halves).
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from conftest import force_split_load
from msc_interop import api
from msc_interop.inputs.load import load_study
from msc_interop.sdtm import load_in_two

from .shuffled_records import shuffled_records

FORMATS = ("xpt", "json", "csv")
STAMP = "2026-01-01T00:00:00"
EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"


@pytest.fixture
def split_always(monkeypatch) -> list[bool]:
    """Every records folder loaded in two (conftest.force_split_load): the list counts the halves joined."""
    return force_split_load(monkeypatch)


def _never_split(monkeypatch) -> None:
    monkeypatch.setattr(load_in_two, "SPLIT_BYTES", 1 << 62)


def _files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def _same_outputs(records: Path, tmp_path: Path, monkeypatch) -> tuple[api.ConversionResult, api.ConversionResult]:
    """to-sdtm of `records` loaded in two and in one process: the same files, findings, notes and counts."""
    two = api.to_sdtm(records, tmp_path / "two", formats=FORMATS, created=STAMP, partition_subjects=0)
    _never_split(monkeypatch)
    one = api.to_sdtm(records, tmp_path / "one", formats=FORMATS, created=STAMP, partition_subjects=0)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert [str(f) for f in _files(tmp_path / "one")
            if not filecmp.cmp(tmp_path / "one" / f, tmp_path / "two" / f, shallow=False)] == []

    def findings(result: api.ConversionResult, side: str) -> list[str]:
        return [repr(f).replace(str(tmp_path / side), "OUT") for f in result.validation.findings]

    assert findings(two, "two") == findings(one, "one")
    assert two.rejects.notes == one.rejects.notes
    assert two.rejects.reconciliation() == one.rejects.reconciliation()
    assert sorted(two.rejects.rejects) == sorted(one.rejects.rejects)
    return two, one


@pytest.fixture(scope="module")
def defects(tmp_path_factory) -> Path:
    """40 synthetic subjects, every form's rows shuffled, labs.csv with seeded defects."""
    folder = shuffled_records(tmp_path_factory.mktemp("records"), subjects=40, seed=17)
    labs = folder / "labs.csv"
    header, *rows = labs.read_text(encoding="utf-8").splitlines()
    rows.insert(30, rows[5])  # an exact duplicate
    unknown = rows[40].split(",")
    unknown[0] = "NOPE-999"
    rows.insert(41, ",".join(unknown))  # a subject not in subjects.csv
    rows.insert(50, "")  # a blank line
    for at in (3, len(rows) - 3):  # non-ASCII text in rows of (most likely) both halves
        cells = rows[at].split(",")
        cells[-1] = "Hôpital Nord"
        rows[at] = ",".join(cells)
    spanning = rows[60].split(",")
    spanning[-1] = '"Central\nLab"'  # a value spanning two lines
    rows[60] = ",".join(spanning)
    rows = [f"{r},x" if r else r for r in rows]  # a column not of the form
    labs.write_text("\n".join([f"{header},extra_column", *rows]) + "\n", encoding="utf-8")
    return folder


def test_example_study_same_outputs(split_always, tmp_path, monkeypatch):
    two, one = _same_outputs(EXAMPLE, tmp_path, monkeypatch)
    assert split_always == [True]  # loaded in two, joined once (the one-process run: not split)
    assert len(two.study["DM"]) == len(one.study["DM"]) == 9


def test_shuffled_records_with_defects_same_outputs_each_reject_once(split_always, defects, tmp_path, monkeypatch):
    two, _one = _same_outputs(defects, tmp_path, monkeypatch)
    assert split_always == [True]
    rejects = two.rejects.rejects
    assert len(rejects) == len(set(rejects))  # (the column not of the form: reported by one half only)
    assert sum(r.code == "REJ-REC-003" for r in rejects) == 1
    assert any(r.value == "NOPE-999" for r in rejects)
    assert any("spanning" in r.reason or "span" in r.reason for r in rejects)
    assert any("exact duplicate" in r.reason for r in rejects)


def test_the_halves_hold_disjoint_subjects_in_usubjid_order(defects):
    """Each process keeps its own subjects' rows; the second half's USUBJIDs all sort after the first's."""
    second = load_in_two.second_half_subjects(defects)
    first_half = load_in_two.built_half(defects, second, inside=False)
    second_half = load_in_two.built_half(defects, second, inside=True)
    mine, theirs = first_half.datasets["LB"], second_half.datasets["LB"]
    assert set(theirs["USUBJID"].str.rsplit("-", n=1).str[-1]) <= second
    assert not set(mine["USUBJID"]) & set(theirs["USUBJID"])
    assert mine["USUBJID"].max() < theirs["USUBJID"].min()
    assert len(second) == 40 - round(40 * (1 - load_in_two.OTHER_SHARE))


def test_the_loaded_study_equals_the_one_process_study(split_always, defects, monkeypatch):
    two, _ = load_study(defects)
    assert split_always == [True]
    _never_split(monkeypatch)
    one, _ = load_study(defects)
    assert two.names == one.names
    for name in one.names:
        assert two[name].dtypes.to_dict() == one[name].dtypes.to_dict(), name
        assert two[name].equals(one[name]), name
    assert two.text_origins == one.text_origins and "Hôpital Nord" in one.text_origins


def test_a_failed_half_is_loaded_whole(split_always, tmp_path, monkeypatch):
    """The other process failing (here: always) is no error: the folder is loaded in one process."""
    def fail(folder, second, preparsed):
        raise RuntimeError("this half fails")

    monkeypatch.setattr(load_in_two, "_shipped_half", fail)
    assert load_in_two.load_in_two(EXAMPLE) is None
    study, _ = load_study(EXAMPLE)
    assert len(study["DM"]) == 9


def test_one_subject_is_not_split(tmp_path):
    records = tmp_path / "records"
    api.synth(records, subjects=1, seed=3)
    assert load_in_two.second_half_subjects(records) == frozenset()
    assert load_in_two.load_in_two(records) is None


def test_only_big_folders_on_two_free_cores_are_split(tmp_path, monkeypatch):
    monkeypatch.setattr(load_in_two, "can_fork", lambda: True)
    monkeypatch.setattr(load_in_two, "core_free", lambda: True)
    assert not load_in_two.worth_splitting(EXAMPLE)  # a few KB
    monkeypatch.setattr(load_in_two, "SPLIT_BYTES", 1)
    assert load_in_two.worth_splitting(EXAMPLE)
    monkeypatch.setattr(load_in_two, "core_free", lambda: False)  # another job busy on the other core
    assert not load_in_two.worth_splitting(EXAMPLE)
    monkeypatch.setattr(load_in_two, "core_free", lambda: True)
    monkeypatch.setattr(load_in_two, "can_fork", lambda: False)
    assert not load_in_two.worth_splitting(EXAMPLE)


def test_a_core_is_free_when_this_process_runs_alone(monkeypatch):
    """core_free counts the runnable tasks /proc/loadavg gives against this process's cores, in most of several
    readings: one reading of a task runnable for a moment does not keep a load on one core, a busy core does."""
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    real = Path.read_text
    for readings, free in ((["1"] * 5, True), (["2"] * 5, False), (["5"] * 5, False),
                           (["1", "3", "1", "1", "1"], True), (["2", "2", "1", "2", "2"], False),
                           (["1", "2", "1", "2", "2"], False), (["2", "1", "2", "1", "1"], True)):
        seen = iter(readings)
        monkeypatch.setattr(Path, "read_text", lambda self, *a, seen=seen, **k: (
            f"0.50 0.40 0.30 {next(seen)}/250 4242\n" if str(self) == "/proc/loadavg" else real(self, *a, **k)))
        assert load_in_two.core_free(gap=0) is free, readings
        assert next(seen, None) is None  # every reading taken


def test_halves_out_of_usubjid_order_are_not_joined(split_always, defects, monkeypatch):
    """A wrong cut (here the first subjects by USUBJID sent to the second process) is caught by the DM order
    check: the folder is then loaded whole, never joined in the wrong order."""
    right = load_in_two.second_half_subjects(defects)
    subjects = {line.split(",")[0] for line in (defects / "subjects.csv").read_text().splitlines()[1:]}
    monkeypatch.setattr(load_in_two, "second_half_subjects", lambda folder: frozenset(subjects - right))
    assert load_in_two.load_in_two(defects) is None


def test_with_two_files_broken_the_error_is_the_whole_loads(split_always, tmp_path, monkeypatch):
    """The subjects are ranked before the read, but the study definition is still read first: a broken study.yaml
    and a broken subjects.csv give the error a one-process load gives (study.yaml's)."""
    from msc_interop.errors import MscInteropError

    records = tmp_path / "records"
    api.synth(records, subjects=6, seed=2)
    (records / "study.yaml").write_text("studyid: [\n", encoding="utf-8")
    header, *rows = (records / "subjects.csv").read_text(encoding="utf-8").splitlines()
    (records / "subjects.csv").write_text("\n".join([header + ",sex", *[r + ",F" for r in rows]]) + "\n",
                                          encoding="utf-8")
    with pytest.raises(MscInteropError) as two:
        load_study(records)
    _never_split(monkeypatch)
    with pytest.raises(MscInteropError) as one:
        load_study(records)
    assert type(two.value) is type(one.value) and str(two.value) == str(one.value)
    assert "study.yaml" in str(one.value)
