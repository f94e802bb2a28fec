"""ADaM files: XPT and Dataset-JSON read back cell for cell as derived, define.xml XSD-valid, what validate says,
and the command's output."""

from __future__ import annotations

import json

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from msc_interop.adam import files
from msc_interop.cli import main
from msc_interop.sdtm.define import xsd_errors

from .conftest import CREATED, EXAMPLE, XSD


@pytest.mark.parametrize("which", ["adam_example", "adam_pilot"])
@pytest.mark.parametrize("fmt", ["xpt", "json"])
def test_files_read_back_identical(which, fmt, request):
    out, result = request.getfixturevalue(which)
    back = files.read_folder(out / fmt)
    assert sorted(back) == sorted(result.adam)
    for name, frame in result.adam.items():
        want = files.canonical(name, frame)
        assert files.same(want, back[name]), f"{name}.{fmt} does not read back as written"


@pytest.mark.parametrize("which", ["adam_example", "adam_pilot"])
@pytest.mark.parametrize("fmt", ["xpt", "json"])
def test_define_is_xsd_valid(which, fmt, request, shared_dir):
    out, _ = request.getfixturevalue(which)
    assert xsd_errors(out / fmt / "define.xml", shared_dir / XSD) == []


def test_written_files_validate_clean(adam_example, adam_pilot):
    for _, result in (adam_example, adam_pilot):
        assert result.validation is not None and result.validation.findings == []
        assert result.ok


def test_xpt_dates_are_sas_dates_with_date9(adam_example):
    out, result = adam_example
    df, meta = pyreadstat.read_xport(str(out / "xpt" / "adsl.xpt"), disable_datetime_conversion=True)
    assert meta.original_variable_types["TRTSDT"] == "DATE9."  # NAMESTR: NFORM DATE, NFL 9
    first = result.study["DM"].set_index("USUBJID")["RFXSTDTC"].str[:10]
    got = pd.Timestamp("1960-01-01") + pd.to_timedelta(df.set_index("USUBJID")["TRTSDT"], unit="D")
    assert (got.dt.strftime("%Y-%m-%d") == first.reindex(got.index)).all()
    assert meta.column_names_to_labels["TRTSDT"] == "Date of First Exposure to Treatment"


def test_reading_adam_xpt_dates_makes_no_note(adam_example):
    """ADaM's TRTSDT, ASTDT ... are SAS numeric dates by design (DATE9.), unlike an SDTM --DTC: reading them back
    (summary, to-fhir, to-adam of an ADaM folder) must not note them as dates turned into text."""
    from msc_interop.sdtm.text_encoding import reading

    out, _ = adam_example
    with reading(None) as log:
        name, df = files.read_dataset(out / "xpt" / "adsl.xpt")
    assert name == "ADSL" and pd.api.types.is_numeric_dtype(df["TRTSDT"])
    assert not [n for n in log.notes() if "SAS numeric date" in n]


def test_dataset_json_date_columns(adam_example):
    out, _ = adam_example
    doc = json.loads((out / "json" / "adsl.json").read_text())
    col = next(c for c in doc["columns"] if c["name"] == "TRTSDT")
    assert (col["dataType"], col["targetDataType"], col["displayFormat"]) == ("date", "integer", "DATE9.")
    i = [c["name"] for c in doc["columns"]].index("TRTSDT")
    assert doc["rows"][0][i] == "2009-10-04"  # MSC-SLE-2009-01-01, RFXSTDTC 2009-10-04T09:19
    assert doc["metaDataVersionOID"] == "MDV.MSC-SLE-2009.ADaMIG.1.3"


def test_dataset_json_is_schema_valid(adam_pilot, shared_dir):
    import jsonschema

    schema_path = next((shared_dir / "external" / "dataset-json").rglob("dataset.schema.json"), None)
    if schema_path is None:
        pytest.skip("no Dataset-JSON schema in ../shared")
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)  # the draft the schema names (2019-09)
    out, _ = adam_pilot
    files = sorted((out / "json").glob("*.json"))
    assert [p.stem for p in files] == ["adae", "adex", "adsl"]  # the pilot has no LB: no ADLB
    for p in files:
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(
            json.loads(p.read_text()))]
        assert problems == [], (p.name, problems[:5])


def test_cli_to_adam(tmp_path):
    res = CliRunner().invoke(main, ["to-adam", str(EXAMPLE), "-o", str(tmp_path), "--format", "json",
                                    "--created", CREATED])
    assert res.exit_code == 0, res.output
    assert "wrote " + str(tmp_path / "json" / "adsl.json") + " (9 records)" in res.output
    assert "ADSL: 9 subjects, 9 in the safety population (SAFFL), 9 randomised (ITTFL)" in res.output
    assert "ADAE: 1 AE records, 1 treatment-emergent (TRTEMFL = Y) in 1 subjects" in res.output
    assert not (tmp_path / "xpt").exists()


def test_cli_to_adam_refuses_unknown_format(tmp_path):
    res = CliRunner().invoke(main, ["to-adam", str(EXAMPLE), "-o", str(tmp_path), "--format", "csv"])
    assert res.exit_code == 2
    assert "ADaM format(s) ['csv'] unknown; choose from xpt, json" in res.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_output_is_deterministic(adam_example, tmp_path):
    from msc_interop.api import to_adam

    out, _ = adam_example
    to_adam([EXAMPLE], tmp_path, created=CREATED, validate=False)
    for fmt in ("xpt", "json"):
        for p in sorted((out / fmt).iterdir()):
            assert (tmp_path / fmt / p.name).read_bytes() == p.read_bytes(), p.name
