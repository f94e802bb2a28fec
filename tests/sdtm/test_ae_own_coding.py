"""AE coded as the EDC's coder coded it: a row of the adverse_events form giving `decod` (the MedDRA PT) keeps
its own coding (LLT, PT, HLT, HLGT, primary SOC and their codes) instead of needing mappings/ae_dictionary.yaml,
which holds only the model study's terms. Found by a new user: any AE term but Dizziness / Feeling hot was
rejected, so a real study's AEs could not be converted. Terms below are CDISC pilot AE records (ae.xpt); the
codes are the study dictionary's verified ones (Dizziness 10013573, Nervous system disorders 10029205)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import EXAMPLE
from msc_interop import api

CREATED = "2026-01-01T00:00:00"
PRURITUS = {"llt": "APPLICATION SITE ITCHING", "decod": "APPLICATION SITE PRURITUS", "hlt": "HLT_0317",
            "hlgt": "HLGT_0338", "bodsys": "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS"}
VERTIGO = {"decod": "Dizziness", "pt_code": "10013573", "bodsys": "Nervous system disorders", "soc_code": "10029205"}


def _ae_rows(folder: Path, rows: list[dict[str, str]]) -> pd.DataFrame:
    path = folder / "adverse_events.csv"
    ae = pd.read_csv(path, dtype=str, keep_default_na=False)
    base = ae.iloc[0].to_dict()
    extra = pd.DataFrame([{**base, **r} for r in rows]).fillna("")
    out = pd.concat([ae, extra], ignore_index=True).fillna("")
    out.to_csv(path, index=False)
    return out


@pytest.fixture()
def converted(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    folder = tmp_path / "records"
    shutil.copytree(EXAMPLE, folder)
    _ae_rows(folder, [{"ae_number": "91", "reported_term": "itching where the cells went in", **PRURITUS},
                      {"ae_number": "92", "reported_term": "Vertigo", **VERTIGO},
                      {"ae_number": "93", "reported_term": "Rash", "bodsys": "SKIN AND SUBCUTANEOUS TISSUE DISORDERS"}])
    api.to_sdtm(folder, tmp_path / "out", formats=["csv"], created=CREATED, validate=False)
    ae = pd.read_csv(tmp_path / "out" / "csv" / "ae.csv", dtype=str, keep_default_na=False)
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv", dtype=str, keep_default_na=False)
    counts = next(c for c in json.loads((tmp_path / "out" / "rejects.json").read_text())["counts"]
                  if c["form"] == "adverse_events")
    return ae, rejects, counts


def test_a_row_with_its_coders_pt_keeps_its_whole_coding(converted) -> None:
    ae, _, _ = converted
    (row,) = ae[ae.AESPID == "91"].to_dict("records")
    assert (row["AETERM"], row["AELLT"], row["AEDECOD"], row["AEHLT"], row["AEHLGT"]) == (
        "itching where the cells went in", "APPLICATION SITE ITCHING", "APPLICATION SITE PRURITUS", "HLT_0317",
        "HLGT_0338")
    assert row["AEBODSYS"] == row["AESOC"] == "GENERAL DISORDERS AND ADMINISTRATION SITE CONDITIONS"
    assert row["AEPTCD"] == row["AEBDSYCD"] == ""  # no code given: none made up
    (row,) = ae[ae.AESPID == "92"].to_dict("records")
    assert (row["AEDECOD"], row["AEPTCD"], row["AEBODSYS"], row["AEBDSYCD"], row["AESOCCD"]) == (
        "Dizziness", "10013573", "Nervous system disorders", "10029205", "10029205")
    assert row["AELLT"] == row["AEHLT"] == ""  # the coder's coding as a whole: not filled from the dictionary


def test_coding_fields_without_a_pt_are_rejected_naming_them(converted) -> None:
    ae, rejects, counts = converted
    assert "93" not in set(ae.AESPID)
    assert (counts["read"], counts["converted"], counts["rejected"]) == (len(ae) + 1, len(ae), 1)
    (rej,) = rejects.to_dict("records")
    assert (rej["form"], rej["field"], rej["code"]) == ("adverse_events", "decod", "REJ-REC-006")
    assert "MedDRA coding (bodsys) but no PT in decod" in rej["reason"]


def test_the_study_dictionarys_rows_are_coded_as_before(converted) -> None:
    ae, _, _ = converted
    (row,) = ae[ae.AETERM == "Dizziness with warm sensation"].to_dict("records")
    assert (row["AEDECOD"], row["AEPTCD"], row["AEHLT"]) == ("Dizziness", "10013573",
                                                             "Neurological signs and symptoms NEC")
