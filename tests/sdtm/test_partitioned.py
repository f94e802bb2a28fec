"""to-sdtm a subject partition at a time writes the files a whole run writes, byte for byte.

The oracle is the whole run (`partition_subjects=0`) on the same records: every file of every format, define.xml
and the reject report must be identical, on the bundled study and on synthetic records with seeded defects
(a duplicate row, an unknown subject, a blank line, CRLF line ends, a non-ASCII value), with every dataset
streamed from disk (hold_rows=0) and with the default of holding the small ones.
"""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

import pytest

from msc_interop import api
from msc_interop.records import subject_split
from msc_interop.sdtm.partitioned import load_partitioned, scratch_folder
from msc_interop.sdtm.partitioned_write import write_partitioned

from .shuffled_records import shuffled_records

FORMATS = ("xpt", "json", "ndjson", "csv")
STAMP = "2026-01-01T00:00:00"
EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"


def _whole(records: Path, out: Path) -> Path:
    api.to_sdtm(records, out, formats=FORMATS, created=STAMP, validate=False, partition_subjects=0)
    return out


def _partitioned(records: Path, out: Path, per: int, hold_rows: int) -> int:
    with scratch_folder(out) as scratch:
        ps = load_partitioned(records, scratch, per, hold_rows=hold_rows)
        assert ps is not None
        write_partitioned(ps, out, FORMATS, True, STAMP)
        ps.rejects.notes += [n for n in ps.notes if n not in ps.rejects.notes]
        ps.rejects.write(out)
        return ps.partitions


def _differences(a: Path, b: Path) -> list[str]:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    return [str(f) for f in files_a if not filecmp.cmp(a / f, b / f, shallow=False)]


@pytest.fixture(scope="module")
def defects(tmp_path_factory) -> Path:
    """60 synthetic subjects, labs.csv with seeded defects at known lines (CRLF line ends throughout)."""
    folder = tmp_path_factory.mktemp("records")
    api.synth(folder, subjects=60, seed=11)
    path = folder / "labs.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    header, rows = lines[0], [r for r in lines[1:] if r]
    rows.insert(50, rows[10])  # line 52: an exact duplicate of line 12
    unknown = rows[20].split(",")
    unknown[0] = "NOPE-999"
    rows.insert(60, ",".join(unknown))  # line 62: a subject not in subjects.csv
    rows.insert(70, "")  # line 72: blank (not a record)
    accented = rows[-5].split(",")
    accented[-1] = "Hôpital Nord"  # a non-ASCII lab name in the last partition
    rows[-5] = ",".join(accented)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))
    return folder


@pytest.fixture(scope="module")
def defects_whole(defects, tmp_path_factory) -> Path:
    return _whole(defects, tmp_path_factory.mktemp("whole"))


def test_example_every_dataset_streamed_is_byte_identical(tmp_path):
    whole = _whole(EXAMPLE, tmp_path / "whole")
    assert _partitioned(EXAMPLE, tmp_path / "parts", per=2, hold_rows=0) == 5  # 9 subjects, 2 a partition
    assert _differences(whole, tmp_path / "parts") == []


def test_seeded_defects_byte_identical_and_rejects_name_original_lines(defects, defects_whole, tmp_path):
    assert _partitioned(defects, tmp_path / "parts", per=7, hold_rows=0) == 9  # 60 subjects, 7 a partition
    assert _differences(defects_whole, tmp_path / "parts") == []
    rejects = (tmp_path / "parts" / "rejects.csv").read_text(encoding="utf-8")
    assert "labs,labs.csv,52,test," in rejects and "exact duplicate of row 12" in rejects
    assert "labs,labs.csv,62,subject_id,NOPE-999,subject is not in subjects.csv" in rejects


def test_small_blocks_cut_lines_anywhere(defects, defects_whole, tmp_path, monkeypatch):
    """Blocks of 1 KB end mid-line everywhere: the carried tail must join the next block exactly."""
    monkeypatch.setattr(subject_split, "BLOCK_BYTES", 1024)
    _partitioned(defects, tmp_path / "parts", per=25, hold_rows=1000)
    assert _differences(defects_whole, tmp_path / "parts") == []


def test_api_partitioned_run_same_files_and_counts(tmp_path):
    whole = api.to_sdtm(EXAMPLE, tmp_path / "whole", formats=FORMATS, created=STAMP, validate=False,
                        partition_subjects=0)
    parts = api.to_sdtm(EXAMPLE, tmp_path / "parts", formats=FORMATS, created=STAMP, validate=False,
                        partition_subjects=4)
    assert (whole.partitions, parts.partitions) == (0, 3)
    assert _differences(tmp_path / "whole", tmp_path / "parts") == []
    assert parts.rows == {n: len(df) for n, df in whole.study.datasets.items()}
    assert not list((tmp_path / "parts").glob(".msc-partitions.*"))  # scratch removed


def test_value_spanning_lines_is_read_whole(tmp_path):
    """A quoted value over two lines cannot be cut by line: the run falls back to a whole read, which
    rejects those lines as it always does."""
    records = tmp_path / "records"
    shutil.copytree(EXAMPLE, records)
    labs = records / "labs.csv"
    lines = labs.read_text(encoding="utf-8").split("\n")
    first = lines[5].split(",")
    first[-1] = '"Central\nLab"'
    lines[5] = ",".join(first)
    labs.write_text("\n".join(lines), encoding="utf-8")
    result = api.to_sdtm(records, tmp_path / "out", formats=("csv",), created=STAMP, validate=False,
                         partition_subjects=2)
    assert result.partitions == 0
    assert any(r.row == 6 and r.code == "REJ-REC-011" for r in result.rejects.rejects)
    (note,) = [n for n in result.rejects.notes if n.startswith("--partition-subjects 2: read whole (")]
    assert re.fullmatch(r"--partition-subjects 2: read whole \(labs\.csv, somewhere in lines 2-(\d+): a quoted "
                        r"value spans lines\)", note) and int(note.split("-")[-1].split(":")[0]) >= 6


def test_auto_partitions_only_big_records_folders(tmp_path, monkeypatch):
    from msc_interop.api import _partitioning

    why: list[str] = []
    assert not _partitioning(EXAMPLE, None, "auto", why)  # 0.2 MB of CSV
    assert _partitioning(EXAMPLE, None, "on", why) and _partitioning(EXAMPLE, None, 3, why)
    assert not _partitioning(EXAMPLE, None, 0, why) and not _partitioning(EXAMPLE, None, "off", why)
    assert why == []
    assert not _partitioning(EXAMPLE, "map.yaml", "on", why)  # an ODM export is read whole
    assert why == ["example_study is not a study-records folder (study.yaml with CSV files): only those are cut "
                   "by subject"]
    monkeypatch.setattr(api, "PARTITION_BYTES", 1000)
    assert _partitioning(EXAMPLE, None, "auto", [])


def test_a_cut_asked_for_but_not_made_says_why(tmp_path):
    """--partition-subjects on / N that is not honoured says so (a fresh-eyes run saw silence): an SDTM package,
    a folder whose subjects make one partition, a value spanning lines."""
    whole = api.to_sdtm(EXAMPLE, tmp_path / "sdtm", formats=("json",), created=STAMP, validate=False)
    assert whole.partitions == 0
    package = api.to_sdtm(tmp_path / "sdtm" / "json", tmp_path / "again", formats=("csv",), created=STAMP,
                          validate=False, partition_subjects=10)
    assert "--partition-subjects 10: read whole (json is not a study-records folder (study.yaml with CSV files): " \
           "only those are cut by subject)" in package.rejects.notes
    one = api.to_sdtm(EXAMPLE, tmp_path / "one", formats=("csv",), created=STAMP, validate=False,
                      partition_subjects=50)
    assert one.partitions == 0
    assert "--partition-subjects 50: read whole (its 9 subject(s) make one partition of 50)" in one.rejects.notes
    auto = api.to_sdtm(EXAMPLE, tmp_path / "auto", formats=("csv",), created=STAMP, validate=False)
    assert not [n for n in auto.rejects.notes if n.startswith("--partition-subjects")]  # auto: small is whole


@pytest.mark.parametrize("records", ["example", "defects"])
def test_validation_of_a_partitioned_run_equals_the_whole_runs(records, defects, tmp_path, monkeypatch):
    """The findings of the written files (SDTM rules over the partitions, XPT value rules per partition, the
    Dataset-JSON metadata, define.xml against the proxies) are the whole run's, in order, every dataset
    streamed; with non-ASCII text in XPT (defects) the XPT folder is read back, as validate reads it."""
    from msc_interop.sdtm import partitioned

    folder = EXAMPLE if records == "example" else defects
    whole = api.to_sdtm(folder, tmp_path / "w", formats=FORMATS, created=STAMP, partition_subjects=0)
    monkeypatch.setattr(partitioned, "HOLD_ROWS", 0)
    parts = api.to_sdtm(folder, tmp_path / "p", formats=FORMATS, created=STAMP,
                        partition_subjects=3 if records == "example" else 13)
    assert parts.partitions > 1
    a = [str(f).replace(str(tmp_path / "w"), "OUT") for f in whole.validation.findings]
    b = [str(f).replace(str(tmp_path / "p"), "OUT") for f in parts.validation.findings]
    assert a == b and len(a) >= 12  # the example's 12 judged MSC-SDTM-040 warnings at least


def test_rows_in_any_order_same_files_and_dm_in_key_order(tmp_path):
    """Every form's rows shuffled (subjects.csv not in USUBJID order): the partitioned run still writes the whole
    run's files, DM included, whose rows follow its key USUBJID (before, DM kept subjects.csv's order whole and
    USUBJID's partitioned)."""
    records = shuffled_records(tmp_path / "records", subjects=30, seed=5)
    whole = api.to_sdtm(records, tmp_path / "whole", formats=("csv", "json"), created=STAMP, validate=False,
                        partition_subjects=0)
    parts = api.to_sdtm(records, tmp_path / "parts", formats=("csv", "json"), created=STAMP, validate=False,
                        partition_subjects=7)
    assert parts.partitions == 5
    assert _differences(tmp_path / "whole", tmp_path / "parts") == []
    usubjid = whole.study["DM"]["USUBJID"].tolist()
    assert usubjid == sorted(usubjid) and len(set(usubjid)) == 30


@pytest.fixture(scope="module")
def screen_failure(tmp_path_factory) -> Path:
    """The example study plus subject 10, a screen failure (arm_code SCREEN FAILURE, CDISC CT ARMNULRS C49628)
    with a lab and a disposition record but no EX, EG, VS, CM, MH, PR, RE or SUPPEX rows."""
    folder = tmp_path_factory.mktemp("screenfail") / "records"
    shutil.copytree(EXAMPLE, folder)
    added = {
        "subjects": "10,01,Female,1980-05-15,,ASIAN,NOT HISPANIC OR LATINO,SCREEN FAILURE,,2009-08-01,2009-08-10",
        "disposition": "10,SCREEN FAILURE,2009-08-10,Did not meet inclusion criterion 3",
        "labs": "10,Baseline,2009-08-03T08:30,ALT,30,U/L,7,40,Nanjing Drum Tower Hospital Clinical Laboratory",
    }
    for form, row in added.items():
        path = folder / f"{form}.csv"
        text = path.read_text(encoding="utf-8")
        path.write_text(text + ("" if text.endswith("\n") else "\n") + row + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("hold_rows", [None, 0])
def test_a_partition_without_ex_eg_vs_validates_as_the_whole_run(screen_failure, tmp_path, monkeypatch, hold_rows):
    """--partition-subjects 3 leaves the screen failure alone in the last partition, which builds no EG, PR, RE,
    SUPPEX and no rows of EX, VS, ...: its validation still checks what the others check (the datasets it lacks
    given empty, as a whole run's), so the findings are the whole run's, not 'rule could not run: over
    partitions' for every rule (54 errors before), and the files are the same."""
    from msc_interop.sdtm import partitioned

    whole = api.to_sdtm(screen_failure, tmp_path / "w", formats=FORMATS, created=STAMP, partition_subjects=0)
    if hold_rows is not None:
        monkeypatch.setattr(partitioned, "HOLD_ROWS", hold_rows)
    parts = api.to_sdtm(screen_failure, tmp_path / "p", formats=FORMATS, created=STAMP, partition_subjects=3)
    assert parts.partitions == 4  # subjects 01-03, 04-06, 07-09, and 10 alone
    assert _differences(tmp_path / "w", tmp_path / "p") == []
    # the whole run judges the screen failure valid: only the example's MSC-SDTM-040 warnings
    assert {(f.rule_id, f.severity) for f in whole.validation.findings} == {("MSC-SDTM-040", "warning")}
    a = [str(f).replace(str(tmp_path / "w"), "OUT") for f in whole.validation.findings]
    b = [str(f).replace(str(tmp_path / "p"), "OUT") for f in parts.validation.findings]
    assert b == a
