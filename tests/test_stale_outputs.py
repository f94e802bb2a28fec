"""A second run into the same output folder names the files it did not write (stale_outputs.py).

The case: a study converted once with its findings form (PR, RE, RELREC; FHIR Procedures), then again without
it into the same folder. The earlier run's pr/re/relrec files and Procedure.ndjson stay (nothing of the user's is
removed), and the run's notes name exactly them; a run that writes every file of the folder names nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from msc_interop import api

STAMP = "2026-01-01T00:00:00"


@pytest.fixture
def records(synth_records: Path) -> Path:
    return synth_records  # (tests/conftest.py: read, never changed; the tests change copies)


def _without_findings(records: Path, to: Path) -> Path:
    shutil.copytree(records, to)
    (to / "findings.csv").unlink()
    return to


def _stale_notes(notes: list[str]) -> list[str]:
    return [n for n in notes if "not written by this run" in n]


@pytest.mark.parametrize("partition_subjects", [0, 6])
def test_to_sdtm_names_the_datasets_an_earlier_run_left(records, tmp_path, partition_subjects):
    out = tmp_path / "out"
    first = api.to_sdtm(records, out, formats=["xpt", "csv"], created=STAMP, partition_subjects=partition_subjects,
                        validate=False)
    assert {"PR", "RE", "RELREC"} <= set(first.study.names)
    assert _stale_notes(first.rejects.notes) == []  # (an empty folder)
    again = api.to_sdtm(records, out, formats=["xpt", "csv"], created=STAMP, partition_subjects=partition_subjects,
                        validate=False)
    assert _stale_notes(again.rejects.notes) == []  # (the same files written again)
    second = api.to_sdtm(_without_findings(records, tmp_path / "records"), out, formats=["xpt", "csv"],
                         created=STAMP, partition_subjects=partition_subjects, validate=False)
    assert (second.partitions > 1) == bool(partition_subjects)
    assert "PR" not in second.study.names
    assert _stale_notes(second.rejects.notes) == [
        f"{out / fmt}: pr.{fmt}, re.{fmt}, relrec.{fmt} not written by this run (left by an earlier one?): validate "
        "(and any reader of the folder) takes them as part of this output; remove them, or write to an empty folder"
        for fmt in ("xpt", "csv")]
    assert (out / "xpt" / "pr.xpt").is_file()  # (named, not removed)
    assert "not written by this run" in (out / "rejects.json").read_text(encoding="utf-8")


def test_to_fhir_names_the_ndjson_files_an_earlier_run_left(records, tmp_path):
    out = tmp_path / "fhir"
    first, rejects = api.to_fhir(records, out, ndjson=True, validate=False)
    assert first.counts.get("Procedure") and _stale_notes(rejects.notes) == []
    _, rejects = api.to_fhir(records, out, ndjson=True, validate=False)
    assert _stale_notes(rejects.notes) == []  # (rejects.csv / rejects.json of the first run are not output)
    second, rejects = api.to_fhir(_without_findings(records, tmp_path / "records"), out, ndjson=True,
                                  validate=False)
    assert not second.counts.get("Procedure")
    [note] = _stale_notes(rejects.notes)
    assert note.startswith(f"{out}: Procedure.ndjson not written by this run") and "from-fhir" in note


def test_a_define_xml_left_by_an_earlier_run_is_named(records, tmp_path):
    out = tmp_path / "out"
    api.to_sdtm(records, out, formats=["xpt"], created=STAMP, partition_subjects=0, validate=False)
    again = api.to_sdtm(records, out, formats=["xpt"], created=STAMP, partition_subjects=0, validate=False,
                        define=False)
    [note] = _stale_notes(again.rejects.notes)
    assert note.startswith(f"{out / 'xpt'}: define.xml not written by this run")
