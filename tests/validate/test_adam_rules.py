"""ADaM rules (MSC-ADAM-001..009): each made by a small edited dataset and not made by the clean one; and
validate on an ADaM folder (to-adam output) with a broken ADSL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop.adam import files
from msc_interop.validate import validate_paths
from msc_interop.validate.model import Scope
from msc_interop.validate.registry import run
from msc_interop.validate.rules.adam import AdamContext


def _clean() -> dict[str, pd.DataFrame]:
    adsl = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1", "S-2"], "SUBJID": ["1", "2"], "SITEID": "01",
                         "AGE": [40.0, 50.0], "AGEU": "YEARS", "SEX": ["F", "M"], "RACE": "ASIAN",
                         "TRT01P": "A", "SAFFL": ["Y", "N"], "ITTFL": "Y", "FASFL": "Y"})
    adae = pd.DataFrame({"STUDYID": "S", "USUBJID": ["S-1", "S-1"], "AESEQ": [1.0, 2.0], "TRTEMFL": ["Y", ""]})
    adlb = pd.DataFrame({"STUDYID": "S", "USUBJID": "S-1", "PARAMCD": ["ALT", "ALT", "ALT"],
                         "PARAM": "Alanine Aminotransferase (U/L)", "AVAL": [10.0, 12.0, 15.0], "LBSTRESU": "U/L",
                         "BASE": [10.0, 10.0, 10.0], "ABLFL": ["Y", "", ""], "CHG": [np.nan, 2.0, 5.0],
                         "PCHG": [np.nan, 20.0, 50.0]})
    return {"ADSL": adsl, "ADAE": adae, "ADLB": adlb}


def _ids(data: dict[str, pd.DataFrame]) -> list[tuple[str, str, int | None, str]]:
    return [(f.rule_id, f.dataset_or_resource, f.row_or_entry, f.message) for f in run(Scope.ADAM, AdamContext(data))]


def test_clean_datasets_make_no_finding():
    assert _ids(_clean()) == []


def _edit(ds: str, fn) -> dict[str, pd.DataFrame]:
    data = _clean()
    data[ds] = fn(data[ds].copy())
    return data


MADE = [
    ("ADSL", lambda d: d.drop(columns=["TRT01P"]),
     ("MSC-ADAM-001", "ADSL", None, "ADSL has no TRT01P column; TRT01P is Required (Core Req) in ADSL")),
    ("ADSL", lambda d: pd.concat([d, d.iloc[[0]]], ignore_index=True),
     ("MSC-ADAM-002", "ADSL", 3, "ADSL row 3: USUBJID S-1 occurs 2 times; ADSL holds one record per subject")),
    ("ADLB", lambda d: d.assign(BASE=[10.0, 10.0, 11.0], CHG=[np.nan, 2.0, 4.0], PCHG=[np.nan, 20.0, 400 / 11]),
     ("MSC-ADAM-003", "ADLB", 3, "ADLB row 3 (S-1, PARAMCD ALT): BASE is 11 but the baseline record (ABLFL = Y) "
                                 "has AVAL 10")),
    ("ADLB", lambda d: d.assign(ABLFL=["", "", ""]),
     ("MSC-ADAM-003", "ADLB", 1, "ADLB row 1 (S-1, PARAMCD ALT): BASE is 10 but the baseline record (ABLFL = Y) "
                                 "has AVAL missing (no baseline record)")),
    ("ADAE", lambda d: d.assign(TRTEMFL=["Y", "N"]),
     ("MSC-ADAM-005", "ADAE", 2, "ADAE row 2 (S-1): TRTEMFL is 'N'; it must be Y or null")),
    ("ADAE", lambda d: d.assign(USUBJID=["S-1", "S-9"]),
     ("MSC-ADAM-006", "ADAE", 2, "ADAE row 2: USUBJID S-9 is not in ADSL")),
    ("ADSL", lambda d: d.assign(SAFFL=["Y", ""]),
     ("MSC-ADAM-007", "ADSL", 2, "ADSL row 2 (S-2): SAFFL is ''; a population flag is Y or N")),
    # ALT reported in U/L and, on the third record, in ukat/L (1 U/L = 1/60 ukat/L): one PARAMCD, two units
    ("ADLB", lambda d: d.assign(LBSTRESU=["U/L", "U/L", "ukat/L"]),
     ("MSC-ADAM-009", "ADLB", 3, "ADLB row 3 (S-1): PARAMCD ALT has LBSTRESU 'ukat/L' here but 'U/L' on its first "
                                 "record; PARAM and PARAMCD are one-to-one and a parameter has one unit")),
    ("ADLB", lambda d: d.assign(PARAM=["Alanine Aminotransferase (U/L)", "Alanine Aminotransferase (U/L)",
                                       "Alanine Aminotransferase (ukat/L)"]),
     ("MSC-ADAM-009", "ADLB", 3, "ADLB row 3 (S-1): PARAMCD ALT has PARAM 'Alanine Aminotransferase (ukat/L)' here "
                                 "but 'Alanine Aminotransferase (U/L)' on its first record; PARAM and PARAMCD are "
                                 "one-to-one and a parameter has one unit")),
    ("ADLB", lambda d: d.assign(CHG=[np.nan, 2.0, 4.0]),
     ("MSC-ADAM-010", "ADLB", 3, "ADLB row 3 (S-1, PARAMCD ALT): CHG is 4 but AVAL - BASE = 15 - 10 = 5")),
    ("ADLB", lambda d: d.assign(PCHG=[np.nan, 20.0, 5.0]),
     ("MSC-ADAM-011", "ADLB", 3, "ADLB row 3 (S-1, PARAMCD ALT): PCHG is 5 but (AVAL - BASE) / BASE * 100 = "
                                 "(15 - 10) / 10 * 100 = 50")),
    # a zero baseline: CHG is AVAL, PCHG must be null
    ("ADLB", lambda d: d.assign(AVAL=[0.0, 12.0, 15.0], BASE=0.0, CHG=[np.nan, 12.0, 15.0], PCHG=[np.nan, np.nan, 0.0]),
     ("MSC-ADAM-011", "ADLB", 3, "ADLB row 3 (S-1, PARAMCD ALT): PCHG is 0 but BASE is 0; PCHG is null where "
                                 "BASE is 0")),
    ("ADLB", lambda d: d.assign(PARAMCD="ALT_SERUM"),  # 9 characters
     ("MSC-ADAM-012", "ADLB", 1, "ADLB row 1 (S-1): PARAMCD 'ALT_SERUM' (9 characters, 3 record(s)) is not a SAS name "
                                 "of at most 8 characters (a letter or _ first, then letters, digits, _)")),
    ("ADLB", lambda d: d.assign(PARAMCD="ALT-U"),
     ("MSC-ADAM-012", "ADLB", 1, "ADLB row 1 (S-1): PARAMCD 'ALT-U' (5 characters, 3 record(s)) is not a SAS name "
                                 "of at most 8 characters (a letter or _ first, then letters, digits, _)")),
    ("ADLB", lambda d: d.assign(PARAMCD="1ALT"),
     ("MSC-ADAM-012", "ADLB", 1, "ADLB row 1 (S-1): PARAMCD '1ALT' (4 characters, 3 record(s)) is not a SAS name "
                                 "of at most 8 characters (a letter or _ first, then letters, digits, _)")),
]
# the rules these tests make (test_rules.test_every_rule_has_breaking_and_passing_data counts them)
MADE_IDS = {m[2][0] for m in MADE} | {"MSC-ADAM-004", "MSC-ADAM-008"}


@pytest.mark.parametrize(("ds", "edit", "expected"), MADE)
def test_rule_is_made(ds, edit, expected):
    found = _ids(_edit(ds, edit))
    assert expected in found, found
    assert {f[0] for f in found} == {expected[0]}  # and nothing else


def test_second_baseline_is_made():
    found = _ids(_edit("ADLB", lambda d: d.assign(ABLFL=["Y", "Y", ""], BASE=[10.0, 10.0, 10.0])))
    assert ("MSC-ADAM-004", "ADLB", 2, "ADLB row 2 (S-1, PARAMCD ALT): a second record with ABLFL = Y; baseline "
                                       "is one record per subject and parameter") in found


def test_one_param_with_two_paramcds_is_made():
    data = _clean()
    extra = data["ADLB"].assign(PARAMCD="ALT2", ABLFL=["Y", "", ""])  # the same PARAM under a second code
    data["ADLB"] = pd.concat([data["ADLB"], extra], ignore_index=True)
    found = _ids(data)
    assert found == [("MSC-ADAM-009", "ADLB", 4, "ADLB row 4 (S-1): PARAM Alanine Aminotransferase (U/L) has PARAMCD "
                                                 "'ALT2' here but 'ALT' on its first record; PARAM and PARAMCD are "
                                                 "one-to-one and a parameter has one unit")]


def test_file_not_read_is_made():
    ctx = AdamContext(_clean(), unread=[("out/adtte.xpt", "not an ADaM dataset msc-interop reads")])
    found = [(f.rule_id, f.severity, f.file, f.message) for f in run(Scope.ADAM, ctx)]
    assert found == [("MSC-ADAM-008", "warning", "out/adtte.xpt", "out/adtte.xpt: not read, so neither validated "
                      "nor summarised: not an ADaM dataset msc-interop reads")]


def test_unknown_files_of_an_adam_folder_are_named(tmp_path):
    """adtte.xpt (an ADaM dataset msc-interop does not read), a CSV, and adsl.xpt beside adsl.json are each one
    MSC-ADAM-008; define.xml, a hidden file and the tool's own reject report are not."""
    data = _clean()
    folder = tmp_path / "adam"
    files.write_datasets(data, folder, "json", studyid="S", created="2026-01-01T00:00:00")
    files.write_datasets({"ADSL": data["ADSL"]}, folder, "xpt", studyid="S", created="2026-01-01T00:00:00")
    (folder / "adtte.xpt").write_bytes(b"not read")
    (folder / "listing.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"")
    (folder / "rejects.csv").write_text("form,file,row,field,value,reason,code\n", encoding="utf-8")
    report = validate_paths([folder])
    got = sorted((f.rule_id, f.file.rsplit("/", 1)[-1], f.severity) for f in report.findings)
    assert got == [("MSC-ADAM-008", "adsl.xpt", "warning"), ("MSC-ADAM-008", "adtte.xpt", "warning"),
                   ("MSC-ADAM-008", "listing.csv", "warning")]
    adsl_xpt = next(f for f in report.findings if f.file.endswith("adsl.xpt"))
    assert adsl_xpt.message.endswith("not read, so neither validated nor summarised: ADSL is read from adsl.json "
                                     "beside it")
    assert report.valid  # warnings only


def test_validate_an_adam_folder(tmp_path):
    data = _clean()
    data["ADSL"] = pd.concat([data["ADSL"], data["ADSL"].iloc[[1]]], ignore_index=True)
    data["ADLB"]["BASE"] = np.array([10.0, 10.0, 9.0])
    files.write_datasets(data, tmp_path / "xpt", "xpt", studyid="S", created="2026-01-01T00:00:00")
    report = validate_paths([tmp_path])
    got = sorted((f.rule_id, f.file.rsplit("/", 1)[-1], f.row_or_entry) for f in report.findings)
    # BASE 9 on row 3 is not the baseline AVAL 10, and CHG 5, PCHG 50 (from BASE 10) are not AVAL 15 less BASE 9
    assert got == [("MSC-ADAM-002", "adsl.xpt", 3), ("MSC-ADAM-003", "adlb.xpt", 3), ("MSC-ADAM-010", "adlb.xpt", 3),
                   ("MSC-ADAM-011", "adlb.xpt", 3)]
    assert not report.valid


def test_derived_numbers_within_stored_precision_make_no_finding():
    """CHG and PCHG from stored decimals: 0.3 - 0.1 is 0.19999999999999998 in binary, a stored CHG of 0.2 is right;
    a CHG off in the 9th significant digit is not (the relative tolerance 1e-9, validation_rules.yaml)."""
    close = _edit("ADLB", lambda d: d.assign(AVAL=[0.1, 0.3, 0.7], BASE=0.1, CHG=[np.nan, 0.2, 0.6],
                                            PCHG=[np.nan, 200.0, 600.0]))
    assert _ids(close) == []
    off = _edit("ADLB", lambda d: d.assign(AVAL=[1000.0, 1234.5678, 15.0], BASE=1000.0,
                                          CHG=[np.nan, 234.56781, 5.0 - 1000.0], PCHG=np.nan))
    assert [f[:3] for f in _ids(off)] == [("MSC-ADAM-010", "ADLB", 2), ("MSC-ADAM-010", "ADLB", 3)]


def test_null_change_makes_no_finding():
    """CHG and PCHG are checked only where they and AVAL, BASE are all populated (P21 AD0223, AD0225)."""
    data = _edit("ADLB", lambda d: d.assign(AVAL=[10.0, np.nan, 15.0], CHG=[np.nan, 3.0, np.nan],
                                           PCHG=[np.nan, 30.0, np.nan]))
    assert _ids(data) == []


def test_derived_numbers_rounded_for_reporting_make_no_finding():
    """A sponsor's PCHG / CHG rounded to the decimals it reports is right within half a unit of its last decimal:
    (13.4567 - 12.1) / 12.1 * 100 = 11.21239669..., stored 11.21 (2 decimals, off 0.0024 < 0.005) or 11 (0 decimals,
    off 0.21 < 0.5); CHG 1.36 of 13.4567 - 12.1 = 1.3567 (off 0.0033 < 0.005). Off by more than half a unit is
    still found: 11.22 (off 0.0076) and CHG 1.35 (off 0.0067)."""
    rounded = _edit("ADLB", lambda d: d.assign(AVAL=[12.1, 13.4567, 13.4567], BASE=12.1, CHG=[np.nan, 1.36, 1.36],
                                              PCHG=[np.nan, 11.21, 11.0]))
    assert _ids(rounded) == []
    wrong = _edit("ADLB", lambda d: d.assign(AVAL=[12.1, 13.4567, 13.4567], BASE=12.1, CHG=[np.nan, 1.35, 1.36],
                                            PCHG=[np.nan, 11.22, 11.0]))
    assert [f[:3] for f in _ids(wrong)] == [("MSC-ADAM-010", "ADLB", 2), ("MSC-ADAM-011", "ADLB", 2)]


def test_an_xpt_date_beyond_any_calendar_is_a_file_not_read(tmp_path):
    """A number under DATE9. that is no date of the years 1-9999 made pyreadstat raise OverflowError, which validate
    reported as an internal error: it is the file's problem, MSC-IO-001 naming the file."""
    import pyreadstat

    adsl = pd.DataFrame({"STUDYID": ["S"], "USUBJID": ["S-1"], "TRTSDT": [1e15]})
    pyreadstat.write_xport(adsl, str(tmp_path / "adsl.xpt"), table_name="ADSL", file_format_version=5,
                           variable_format={"TRTSDT": "DATE9."})
    report = validate_paths([tmp_path])
    got = [(f.rule_id, f.file) for f in report.findings]
    assert got == [("MSC-IO-001", str(tmp_path / "adsl.xpt"))]
    assert "SAS date" in report.findings[0].message
