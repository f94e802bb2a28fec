"""The command line: what it prints, the exit status, and that its files equal the API's result."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.cli import main

PINNED = "2026-01-01T00:00:00"


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_to_sdtm_example_prints_counts_and_exits_0(tmp_path):
    res = _run("to-sdtm", str(EXAMPLE), "-o", str(tmp_path), "--created", PINNED)
    assert res.exit_code == 0, res.output
    assert "labs: read 494 = converted 494 + rejected 0" in res.output
    assert "subjects: read 9 = converted 9 + rejected 0" in res.output
    assert f"wrote {tmp_path / 'xpt' / 'lb.xpt'} (494 records)" in res.output
    for fmt, suffix in (("xpt", "xpt"), ("json", "json"), ("csv", "csv")):
        assert {p.name for p in (tmp_path / fmt).glob(f"*.{suffix}")} == {
            f"{d}.{suffix}" for d in ("dm", "ex", "ae", "lb", "eg", "suppex", "ta", "te", "ts", "tv", "vs", "mh", "pr",
                                           "re", "relrec", "cm", "ds", "sv")}
    assert (tmp_path / "xpt" / "define.xml").exists() and (tmp_path / "json" / "define.xml").exists()
    counts = json.loads((tmp_path / "rejects.json").read_text())["counts"]
    assert {c["form"]: c["rejected"] for c in counts} == dict.fromkeys(
        ["adverse_events", "disposition", "ecg", "exposures", "findings", "labs", "medical_history", "medications",
         "subjects", "vital_signs"], 0)


def test_two_runs_are_byte_identical(tmp_path):
    for run in ("a", "b"):
        assert _run("to-sdtm", str(EXAMPLE), "-o", str(tmp_path / run), "--created", PINNED,
                    "--format", "xpt,json,ndjson,csv").exit_code == 0
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_rejects_give_exit_1_and_a_report(tmp_path, records_copy):
    def edit(df):
        df.loc[0, "test"] = "CA199X"
        return df

    res = _run("to-sdtm", str(records_copy(labs=edit)), "-o", str(tmp_path / "out"), "--format", "csv")
    assert res.exit_code == 1
    assert "labs: read 494 = converted 493 + rejected 1" in res.output
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", dtype=str)
    assert rejects[["form", "file", "row", "field", "value"]].values.tolist() == [
        ["labs", "labs.csv", "2", "test", "CA199X"]]
    assert len(pd.read_csv(tmp_path / "out" / "csv" / "lb.csv")) == 493


def test_unusable_input_exits_2_with_the_reason(tmp_path, records_copy):
    path = records_copy(labs=lambda df: df.drop(columns="visit"))
    res = CliRunner().invoke(main, ["to-sdtm", str(path), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "labs.csv: required column(s) visit missing" in res.output
    assert not (tmp_path / "out").exists()  # nothing written


def test_unknown_format_lists_valid_ones(tmp_path):
    res = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path), "--format", "sas7bdat"])
    assert res.exit_code == 2 and "xpt" in res.output and "json" in res.output


def test_help_teaches_with_examples():
    res = _run("to-sdtm", "--help")
    assert res.exit_code == 0
    assert "msc-interop to-sdtm fixtures/example_study -o out/sdtm" in res.output
    assert "Exit status" in res.output


def _examples(command: str) -> list[list[str]]:
    text = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
    return [shlex.split(line.strip())[1:] for line in text.splitlines()
            if line.strip().startswith(f"msc-interop {command} ")]


def test_to_fhir_help_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each example, run in a folder holding fixtures/example_study and out/sdtm (to-sdtm's output, which an
    example reads), exits 0. The SDTM one failed: its dates have times of day and it gave no --timezone."""
    (tmp_path / "fixtures").mkdir()
    shutil.copytree(EXAMPLE, tmp_path / "fixtures" / "example_study")
    monkeypatch.chdir(tmp_path)
    assert _run("to-sdtm", "fixtures/example_study", "-o", "out/sdtm", "--format", "json").exit_code == 0
    examples = _examples("to-fhir")
    assert len(examples) == 3 and any(a[1] == "out/sdtm" for a in examples)
    for args in examples:
        res = _run(*args)
        assert res.exit_code == 0, (args, res.output)
    assert (tmp_path / "out" / "fhir-r5" / "Encounter.ndjson").is_file()


@pytest.mark.parametrize("command", ["to-fhir", "push"])
def test_help_examples_of_sdtm_input_give_its_time_zone(command: str) -> None:
    """to-sdtm's out/sdtm (the example study) has times of day and SDTM states no zone: without --timezone an
    example on it stops with exit 2 (check_zone_known). Each example parses as the command's options."""
    examples = _examples(command)
    on_sdtm = [a for a in examples if a[1] == "out/sdtm"]
    assert on_sdtm and all("--timezone" in a for a in on_sdtm)
    for args in examples:
        main.commands[command].make_context(command, args[1:], resilient_parsing=True)


def test_to_fhir_timezone_help_says_what_each_input_defaults_to() -> None:
    text = " ".join(CliRunner().invoke(main, ["to-fhir", "--help"]).output.split())
    option = text[text.index("--timezone"):text.index("--validate")]
    assert "study definition" in option and "SDTM" in option and "UTC" in option


def test_cli_files_equal_the_api_result(tmp_path):
    assert _run("to-sdtm", str(EXAMPLE), "-o", str(tmp_path / "cli"), "--format", "csv").exit_code == 0
    result = api.to_sdtm(EXAMPLE, tmp_path / "api", formats=["csv"], define=False)
    for name in result.study.names:
        from_cli = pd.read_csv(tmp_path / "cli" / "csv" / f"{name.lower()}.csv", dtype=str, keep_default_na=False)
        from_api = pd.read_csv(tmp_path / "api" / "csv" / f"{name.lower()}.csv", dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(from_cli, from_api)
    assert len(result.study["LB"]) == 494


def test_synth_command_writes_forms(tmp_path):
    res = _run("synth", "--subjects", "20", "--seed", "3", "-o", str(tmp_path))
    assert res.exit_code == 0
    assert len(pd.read_csv(tmp_path / "labs.csv")) == 20 * 55


def test_sdtm_output_folder_converts_again_unchanged(tmp_path):
    """to-sdtm on its own output (format subfolders) reads the Dataset-JSON and writes the same data."""
    assert _run("to-sdtm", str(EXAMPLE), "-o", str(tmp_path / "first"), "--format", "json,csv").exit_code == 0
    res = _run("to-sdtm", str(tmp_path / "first"), "-o", str(tmp_path / "second"), "--format", "csv")
    assert res.exit_code == 0, res.output
    for name in ("dm", "ex", "ae", "lb", "suppex", "ta", "te", "ts", "tv"):
        a = (tmp_path / "first" / "csv" / f"{name}.csv").read_bytes()
        assert a == (tmp_path / "second" / "csv" / f"{name}.csv").read_bytes(), name


def test_an_unexpected_exception_is_exit_3_naming_the_command(tmp_path, monkeypatch):
    """Exit 1 must always mean "records rejected": a bug is exit 3 with the command line, not a traceback."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "to_sdtm", broken)
    res = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path)])
    assert res.exit_code == 3
    assert "internal error: RuntimeError: boom" in res.output
    assert f"while running: msc-interop to-sdtm {EXAMPLE} -o {tmp_path}" in res.output
    monkeypatch.setenv("MSC_INTEROP_DEBUG", "1")
    res = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(tmp_path)])
    assert isinstance(res.exception, RuntimeError)  # the traceback, for whoever fixes it


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_says_its_exit_status_and_explains_every_option(name):
    """A data manager reads --help, not the source: each option says what it does and each command how it ends."""
    command = main.commands[name]
    undocumented = [p.opts[-1] for p in command.params if isinstance(p, click.Option) and not p.help]
    assert not undocumented, f"{name}: options without help: {undocumented}"
    text = CliRunner().invoke(main, [name, "--help"]).output
    assert "Exit status" in text, f"{name} --help does not say its exit status"


def test_an_output_folder_that_cannot_be_made_is_exit_2_naming_it(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x", encoding="utf-8")
    res = CliRunner().invoke(main, ["synth", "--subjects", "2", "-o", str(blocker / "out")])
    assert res.exit_code == 2, res.output
    assert "a_file" in res.output and "internal error" not in res.output


def test_validate_deep_gives_the_findings_of_the_fast_path_on_fhir(tmp_path):
    """--deep runs the models on every resource; on a resource with an unknown element and one with a wrong type
    it must find what the default path finds (the schema first, the models on what it refuses)."""
    out = tmp_path / "fhir"
    assert CliRunner().invoke(main, ["to-fhir", str(EXAMPLE), "-o", str(out), "--no-validate"]).exit_code == 0
    bundle = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    observations[0]["foo"] = 1
    observations[1]["valueQuantity"]["value"] = "high"
    (out / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    runs = {}
    for flag in ([], ["--deep"]):
        report = tmp_path / f"report{len(flag)}.json"
        res = CliRunner().invoke(main, ["validate", str(out / "bundle.json"), "--report", str(report), *flag])
        assert res.exit_code == 1, res.output
        runs[len(flag)] = sorted((f["rule_id"], f["variable_or_path"])
                                 for f in json.loads(report.read_text(encoding="utf-8"))["findings"])
    assert runs[0] == runs[1]
    assert {path for _, path in runs[0]} >= {"Observation.foo", "Observation.valueQuantity.value"}, runs[0]


def test_validate_fail_on_warning_prints_and_writes_the_verdict_it_exits_with(tmp_path):
    """A folder with warnings and no error: at --fail-on warning the verdict printed, the one in the report file and
    the exit status all say not valid (the printed verdict said 'valid (fail on error)' with exit 1)."""
    out = tmp_path / "sdtm"
    made = CliRunner().invoke(main, ["to-sdtm", str(EXAMPLE), "-o", str(out), "--format", "csv", "--no-validate"])
    assert made.exit_code == 0, made.output
    plain = CliRunner().invoke(main, ["validate", str(out / "csv")])
    assert plain.exit_code == 0 and "Validation: valid (fail on error): 0 error(s)" in plain.output, plain.output
    assert " 0 warning(s)" not in plain.output  # (the folder has warnings: the test needs them)
    report = tmp_path / "report.json"
    strict = CliRunner().invoke(main, ["validate", str(out / "csv"), "--fail-on", "warning", "--report", str(report)])
    assert strict.exit_code == 1, strict.output
    assert "Validation: not valid (fail on warning)" in strict.output, strict.output
    written = json.loads(report.read_text(encoding="utf-8"))
    assert (written["fail_on"], written["valid"]) == ("warning", False)


def test_help_names_every_form_read_and_every_resource_type_written(tmp_path):
    """to-sdtm's help lists each study-records form file (mappings/schema/records.schema.json), to-fhir's each
    resource type it writes for the example study (they had fallen behind: 5 of 10 forms, 8 of 11 types)."""
    from msc_interop import mappings

    sdtm_help = " ".join(CliRunner().invoke(main, ["to-sdtm", "--help"]).output.split())
    for spec in mappings.schema("records")["x-forms"].values():
        assert spec["file"] in sdtm_help, spec["file"]
    out = tmp_path / "fhir"
    assert CliRunner().invoke(main, ["to-fhir", str(EXAMPLE), "-o", str(out), "--ndjson", "--bundle", "none",
                                     "--no-validate"]).exit_code == 0
    fhir_help = " ".join(CliRunner().invoke(main, ["to-fhir", "--help"]).output.split())
    written = sorted(p.stem for p in out.glob("*.ndjson"))
    assert len(written) >= 10 and [t for t in written if t not in fhir_help] == []
