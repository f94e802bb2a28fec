"""Every reject carries a stable code from mappings/reject_codes.yaml, as validate findings carry rule ids."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from msc_interop import api, mappings
from msc_interop.errors import MappingDataError
from msc_interop.fhir import read_fhir
from msc_interop.rejects import RejectReport

CODE = re.compile(r'"(REJ-[A-Z]+-\d{3})"')
SYNTHEA = REPO / "tests" / "fhir" / "data" / "synthea_like_bundle.json"


def test_every_code_in_the_code_is_listed_and_every_listed_code_is_used():
    used = {m for p in (REPO / "src").rglob("*.py") for m in CODE.findall(p.read_text(encoding="utf-8"))}
    listed = mappings.reject_codes()
    assert used - set(listed) == set()
    assert {c for c, d in listed.items() if not d.get("retired")} - used == set()
    assert {d["area"] for d in listed.values()} == {"records", "odm", "fhir", "sdtm"}


def test_an_unknown_code_is_refused():
    with pytest.raises(MappingDataError, match="REJ-REC-999"):
        RejectReport().add("labs", "labs.csv", 2, "test", "X", "why", code="REJ-REC-999")


def test_records_rejects_carry_their_code(tmp_path, records_copy):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[0, "test"] = "CA199X"  # not a lab test of the mapping
        df.loc[1, "collection_datetime"] = "2009-13-45"  # not a date
        return df

    result = api.to_sdtm(records_copy(labs=edit), tmp_path / "out", formats=["csv"], validate=False)
    frame = pd.read_csv(tmp_path / "out" / "rejects.csv", dtype=str)
    assert frame[["row", "field", "code"]].values.tolist() == [
        ["2", "test", "REJ-REC-006"], ["3", "collection_datetime", "REJ-REC-007"]]
    assert [r.code for r in result.rejects.sorted()] == ["REJ-REC-006", "REJ-REC-007"]


def test_fhir_rejects_carry_their_code(tmp_path):
    _, report = read_fhir([SYNTHEA], strict=True)  # --strict: lab results of tests not in the mapping rejected
    codes = {(r.field, r.code) for r in report.rejects}
    assert ("Observation.value[x]", "REJ-FHIR-006") in codes  # no value (its LOINCs are all known now)
    assert all(r.code.startswith("REJ-FHIR-") for r in report.rejects)
    broken = tmp_path / "broken.ndjson"
    broken.write_text('{"resourceType": "Patient", "id": "p1"}\nnot json\n{"id": "x"}\n', encoding="utf-8")
    _, report = read_fhir([Path(broken)])
    assert sorted((r.row, r.code) for r in report.rejects) == [(2, "REJ-FHIR-001"), (3, "REJ-FHIR-001")]
