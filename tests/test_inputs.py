"""The input door: every command on every other command's output, and the tool's own reports never read as
data (they are skipped with a note, or refused naming what they are)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE
from msc_interop.cli import main
from msc_interop.inputs.kinds import InputKind, input_kind, is_fhir, own_output, sniff_json
from msc_interop.rejects import RejectReport
from msc_interop.validate import validate_paths

PINNED = "2026-01-01T00:00:00"


def _run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One output of each command on the example study (made once for the module)."""
    base = tmp_path_factory.mktemp("outputs")
    out = {name: base / name for name in ("to-sdtm", "to-fhir", "from-fhir", "summary", "to-adam")}
    assert _run("to-sdtm", EXAMPLE, "-o", out["to-sdtm"], "--format", "json,csv", "--created", PINNED,
                "--no-validate").exit_code == 0
    assert _run("to-fhir", EXAMPLE, "-o", out["to-fhir"], "--ndjson", "--no-validate").exit_code == 0
    assert _run("from-fhir", out["to-fhir"] / "bundle.json", "-o", out["from-fhir"], "--format", "json",
                "--created", PINNED).exit_code == 0
    assert _run("summary", EXAMPLE, "-o", out["summary"], "--format", "md,csv").exit_code == 0
    assert _run("to-adam", EXAMPLE, "-o", out["to-adam"], "--created", PINNED, "--no-validate").exit_code == 0
    report = validate_paths([out["to-sdtm"]])
    for suffix in ("json", "csv", "html"):
        out[f"validate.{suffix}"] = base / f"validate.{suffix}"
        report.write(out[f"validate.{suffix}"])
    out["summary.md"] = out["summary"] / "summary.md"
    out["summary.html"] = base / "summary.html"
    assert _run("summary", EXAMPLE, "-o", base / "summary-html", "--format", "html").exit_code == 0
    (base / "summary-html" / "summary.html").rename(out["summary.html"])
    out["lb.json"] = out["to-sdtm"] / "json" / "lb.json"
    out["figure.svg"] = next((out["summary"] / "figures").glob("*.svg"))
    return out


# What each command does with each output: the exit status and a phrase of what it prints.
EXPECTED = {
    ("to-sdtm", "to-sdtm"): (0, "lb.csv"),
    ("to-sdtm", "from-fhir"): (0, "lb.csv"),
    ("to-sdtm", "to-fhir"): (2, "holds FHIR resources"),
    ("to-sdtm", "summary"): (2, "a safety summary written by msc-interop summary, not study data"),
    ("to-sdtm", "validate.json"): (2, "a validation report of msc-interop validate, not study data"),
    ("to-fhir", "to-sdtm"): (0, "Observation: 1264"),
    ("to-fhir", "from-fhir"): (0, "Observation: 1264"),
    ("to-fhir", "to-fhir"): (2, "msc-interop from-fhir"),
    ("to-fhir", "summary"): (2, "a safety summary"),
    ("to-fhir", "validate.csv"): (2, "a validation report"),
    ("from-fhir", "to-fhir"): (0, "rejects.json: skipped, it is the reject report of an msc-interop run"),
    ("from-fhir", "to-sdtm"): (2, "no .json or .ndjson files in this folder other than msc-interop's own reports"),
    ("from-fhir", "summary"): (2, "a safety summary"),
    ("from-fhir", "validate.json"): (2, "a validation report"),
    ("validate", "to-sdtm"): (0, "0 error(s)"),
    ("validate", "to-fhir"): (0, "0 error(s)"),
    ("validate", "from-fhir"): (0, "0 error(s)"),
    ("validate", "summary"): (2, "a safety summary written by msc-interop summary, not study data"),
    ("validate", "validate.json"): (2, "a validation report of msc-interop validate, not study data"),
    ("validate", "validate.html"): (2, "a validation report of msc-interop validate, not study data"),
    ("from-fhir", "validate.html"): (2, "a validation report"),
    ("from-fhir", "summary.html"): (2, "a safety summary"),
    ("from-fhir", "summary.md"): (2, "a safety summary"),
    ("from-fhir", "lb.json"): (2, "an SDTM Dataset-JSON dataset, not FHIR: convert SDTM to FHIR with"),
    ("from-fhir", "figure.svg"): (2, "not a FHIR file"),
    ("summary", "to-sdtm"): (0, "summary.md"),
    ("summary", "to-fhir"): (0, "summary.md"),
    ("summary", "from-fhir"): (0, "summary.md"),
    ("summary", "summary"): (2, "a safety summary"),
    ("summary", "validate.csv"): (2, "a validation report"),
    # ADaM (to-adam): read back into DM/AE/LB/EX (+ SUPPEX) by every command that reads a Study
    ("summary", "to-adam"): (0, "summary.md"),
    ("validate", "to-adam"): (0, "0 error(s)"),
    ("to-sdtm", "to-adam"): (0, "lb.csv"),
    ("to-fhir", "to-adam"): (0, "Observation: 494"),
    ("from-fhir", "to-adam"): (2, "no .json or .ndjson files in this folder other than msc-interop's own reports"),
    ("to-adam", "to-adam"): (0, "adlb.json (494 records)"),
    ("to-adam", "to-sdtm"): (0, "adlb.json (494 records)"),
    ("to-adam", "to-fhir"): (0, "adlb.json (494 records)"),
    ("to-adam", "summary"): (2, "a safety summary written by msc-interop summary, not study data"),
    ("to-adam", "validate.json"): (2, "a validation report of msc-interop validate, not study data"),
}


@pytest.mark.parametrize(("command", "source"), sorted(EXPECTED), ids=lambda v: v)
def test_every_command_on_every_output(outputs, tmp_path, command, source):
    args = [command, outputs[source]]
    if command == "validate":
        args += ["--limit", "50"]
    elif command in ("to-sdtm", "from-fhir"):
        args += ["-o", tmp_path / "out", "--format", "csv"]
    elif command == "to-fhir":  # (the example study's zone: SDTM does not say it)
        args += ["-o", tmp_path / "out", "--no-validate", "--timezone", "Asia/Shanghai"]
    elif command == "to-adam":
        args += ["-o", tmp_path / "out", "--format", "json", "--no-validate"]
    else:
        args += ["-o", tmp_path / "out", "--format", "md"]
    res = _run(*args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output  # no traceback
    status, phrase = EXPECTED[(command, source)]
    assert (res.exit_code, phrase in res.output) == (status, True), res.output
    # the tool's own reports never turn up as data: no reject or finding about them
    assert "no resourceType" not in res.output and "not a FHIR resource" not in res.output
    rejects = tmp_path / "out" / "rejects.json"
    if rejects.exists():
        doc = json.loads(rejects.read_text())
        assert not [r for r in doc["rejects"] if r["file"] in ("rejects.json", "rejects.csv")]


def test_own_reports_are_recognised_from_what_the_writers_write(tmp_path, outputs):
    report = RejectReport()
    report.add("labs", "labs.csv", 2, "test", "X", "unknown test", code="REJ-REC-006")
    written = report.write(tmp_path)
    assert [p.name for p in written] == ["rejects.csv", "rejects.json"]
    for path in written:
        assert own_output(path) == "the reject report of an msc-interop run"
    # an empty report too (the usual case), and validation reports in both formats
    empty = RejectReport().write(tmp_path / "empty")
    assert [own_output(p) for p in empty] == ["the reject report of an msc-interop run"] * 2
    assert own_output(outputs["validate.json"]) == own_output(outputs["validate.csv"]) == \
        "a validation report of msc-interop validate"
    assert own_output(outputs["summary"]) == "a safety summary written by msc-interop summary"
    # data is not: an SDTM CSV, a Dataset-JSON file, a FHIR bundle, a plain folder
    for data in (outputs["to-sdtm"] / "csv" / "lb.csv", outputs["to-sdtm"] / "json" / "lb.json",
                 outputs["to-fhir"] / "bundle.json", outputs["to-sdtm"]):
        assert own_output(data) is None, data


def test_one_sniffer_for_json(tmp_path, outputs):
    """FHIR or Dataset-JSON is told by which top-level key comes first, however far into the file."""
    assert sniff_json(outputs["to-sdtm"] / "json" / "lb.json") == "datasetjson"
    assert sniff_json(outputs["to-fhir"] / "Observation.ndjson") == "fhir"
    late = tmp_path / "late.json"  # a key after 4 KiB of padding (the old is_fhir read only 4 KiB)
    late.write_text('{"meta": "' + "x" * 8000 + '", "resourceType": "Patient", "id": "p"}')
    assert sniff_json(late) == "fhir" and is_fhir(late) and is_fhir(tmp_path)
    assert input_kind(outputs["to-sdtm"]) == InputKind.SDTM
    assert input_kind(EXAMPLE) == InputKind.RECORDS


def test_forms_without_their_study_definition_are_named_as_records(tmp_path):
    """Study-records forms without study.yaml, or one form file given alone, are refused as records needing their
    definition (they were read as SDTM datasets: "dataset name 'ADVERSE_EVENTS' is not a valid SDTM name")."""
    folder = tmp_path / "records"
    folder.mkdir()
    for name in ("subjects.csv", "labs.csv"):
        (folder / name).write_bytes((EXAMPLE / name).read_bytes())
    for path, expected in ((folder, "holds study-records forms (labs.csv, subjects.csv) but no study definition: "
                                    "put study.yaml beside them"),
                           (folder / "labs.csv", "the file of the 'labs' form of study records, not an SDTM dataset")):
        with pytest.raises(Exception, match=expected.replace("(", r"\(").replace(")", r"\)")):
            input_kind(path)
        run = _run("to-sdtm", path, "-o", tmp_path / "out")
        assert run.exit_code == 2 and expected in run.output and "not a valid SDTM name" not in run.output
    (folder / "study.yaml").write_bytes((EXAMPLE / "study.yaml").read_bytes())
    assert input_kind(folder) == InputKind.RECORDS
    table = tmp_path / "disposition.csv"  # (a form's name, not a form's header: e.g. a summary's table)
    table.write_text("DSDECOD,n\nCOMPLETED,9\n", encoding="utf-8")
    assert input_kind(table) == InputKind.SDTM


@pytest.mark.parametrize("command", ["to-sdtm", "to-fhir"])
def test_encoding_of_sdtm_input_is_refused_for_study_records(tmp_path, command):
    """--encoding names the codec of SDTM XPT/CSV input; with study records it was ignored without a word (and a
    Windows-1252 CSV then failed as not UTF-8, as if the option had not been given)."""
    run = _run(command, EXAMPLE, "-o", tmp_path / "out", "--encoding", "cp1252")
    assert run.exit_code == 2, run.output
    assert "--encoding cp1252 applies to SDTM XPT/CSV input only: study records are read as UTF-8" in run.output
    assert not (tmp_path / "out").exists()  # (refused before anything is read or written)
    for same in ("utf-8-sig", "ascii"):  # (how records are read: no reason to refuse)
        from msc_interop.api import _check_encoding_applies
        _check_encoding_applies(EXAMPLE, same)


@pytest.mark.parametrize(("args", "expected"), [
    (["to-sdtm", EXAMPLE, "--created", "yesterday"], "--created 'yesterday': not an ISO 8601 date-time with seconds"),
    (["to-sdtm", EXAMPLE, "--format", "csv", "--created", "2026-01-01"], "--created '2026-01-01': not an ISO 8601"),
    (["to-sdtm", EXAMPLE, "--created", "2026-13-45T25:61:61"], "--created '2026-13-45T25:61:61': not an ISO 8601"),
    (["to-fhir", EXAMPLE, "--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus': not an IANA time zone name"),
    (["to-adam", EXAMPLE, "--created", "today"], "--created 'today': not an ISO 8601 date-time"),
])
def test_a_bad_option_value_stops_the_run_before_anything_is_read(tmp_path, args, expected):
    """They failed only after the whole input was read, left an output folder holding the reject report alone, and
    --created was called "ODM CreationDateTime" (a CSV-only run took a date without its time)."""
    run = _run(args[0], args[1], "-o", tmp_path / "out", *args[2:])
    assert run.exit_code == 2, run.output
    assert expected in run.output and "CreationDateTime" not in run.output
    assert not (tmp_path / "out").exists()
