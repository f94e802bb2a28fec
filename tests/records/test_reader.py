"""Reading study records: counts, the schema check, and every kind of bad input named by file, row and field."""

from __future__ import annotations

import datetime

import jsonschema
import openpyxl
import pandas as pd
import pytest

from msc_interop import mappings
from msc_interop.errors import InputError, StudyDefinitionError
from msc_interop.records import read_records
from msc_interop.records.table_check import check_rows
from msc_interop.records.workbook import cell_text
from msc_interop.sdtm.build import build_study


def _rejects(path):
    study, report = build_study(read_records(path))
    return study, report, report.to_frame()


def test_example_reads_every_form_and_reconciles(example_dir):
    study, report, rejects = _rejects(example_dir)
    assert rejects.empty
    counts = {c.form: (c.read, c.converted, c.rejected) for c in report.counts.values()}
    # 9 subjects, 2 infusions each, 1 AE, 11 tests x 5 visits x 9 subjects less the one missing CA 19-9,
    # ECG + chest X-ray at each of the 45 lab visits, 5 ECG intervals (HR, PR, QRS, QT, QTcF) at each of them
    assert counts == {"subjects": (9, 9, 0), "exposures": (18, 18, 0), "adverse_events": (1, 1, 0),
                      "labs": (494, 494, 0), "findings": (90, 90, 0), "vital_signs": (450, 450, 0),
                      "ecg": (225, 225, 0),
                      "medical_history": (15, 15, 0),
                      "medications": (36, 36, 0), "disposition": (9, 9, 0)}
    assert len(study["LB"]) == 494 and len(study["PR"]) == len(study["RE"]) == 45 and not study.carried


def test_missing_required_column_names_file_and_column(records_copy):
    path = records_copy(labs=lambda df: df.drop(columns="result"))
    with pytest.raises(InputError, match=r"labs\.csv: required column\(s\) result missing"):
        read_records(path)


def test_unparseable_date_rejected_with_row_and_field(records_copy):
    def edit(df):
        df.loc[3, "collection_datetime"] = "2009-02-30"  # 30 February
        df.loc[4, "collection_datetime"] = "30/09/2009"  # not ISO 8601
        return df

    study, report, rejects = _rejects(records_copy(labs=edit))
    got = rejects[rejects.field == "collection_datetime"][["file", "row", "value"]].values.tolist()
    # spreadsheet rows: header is row 1, so DataFrame index 3 is row 5
    assert got == [["labs.csv", 5, "2009-02-30"], ["labs.csv", 6, "30/09/2009"]]
    assert report.counts["labs"].read == 494 and report.counts["labs"].converted == 492
    assert len(study["LB"]) == 492


def test_unknown_test_suggests_the_cdisc_code(records_copy):
    def edit(df):
        df.loc[0, "test"] = "CA-19.9"
        df.loc[1, "test"] = "Vitamin K"
        return df

    _, _, rejects = _rejects(records_copy(labs=edit))
    reasons = dict(zip(rejects.value, rejects.reason, strict=True))
    assert "did you mean CA19_9AG?" in reasons["CA-19.9"]
    assert reasons["Vitamin K"].startswith("'Vitamin K' is not a lab test of mappings/lab_tests.yaml")
    assert set(rejects.row) == {2, 3}


def test_unit_that_cannot_convert_is_rejected_with_known_units(records_copy):
    def edit(df):
        i = df.index[df.test.eq("ALT")][0]
        df.loc[i, "unit"] = "mg/dL"
        return df

    _, _, rejects = _rejects(records_copy(labs=edit))
    assert rejects.field.tolist() == ["unit"]
    assert "cannot be converted for test ALT" in rejects.reason.iloc[0]
    assert "U/L" in rejects.reason.iloc[0]


def test_duplicates_exact_kept_once_conflicting_all_rejected(records_copy):
    def edit(df):
        exact = df.iloc[[0]]
        clash = df.iloc[[1]].assign(result="9.99")
        return pd.concat([df, exact, clash], ignore_index=True)

    study, report, rejects = _rejects(records_copy(labs=edit))
    assert report.counts["labs"].read == 496
    exact = rejects[rejects.reason.str.startswith("exact duplicate")]
    assert exact.row.tolist() == [496] and "row 2" in exact.reason.iloc[0]
    clash = rejects[rejects.reason.str.startswith("conflicting")]
    assert sorted(clash.row) == [3, 497]  # both versions of the clashing record: a person must choose
    assert len(study["LB"]) == 493
    assert report.counts["labs"].converted + report.counts["labs"].rejected == 496


def test_non_utf8_file_names_line(records_copy):
    path = records_copy()
    text = (path / "labs.csv").read_text(encoding="utf-8")
    (path / "labs.csv").write_bytes(text.encode("gb18030"))  # μ: first on line 7 (TBIL)
    with pytest.raises(InputError, match=r"labs\.csv: not UTF-8 text \(line 7, byte 0x"):
        read_records(path)


@pytest.mark.parametrize("content", ["", " \r\n\t\n", "\ufeff\n\u00a0\u3000\n"])  # nothing, or blanks only
def test_empty_file_is_an_error(records_copy, content):
    path = records_copy()
    (path / "adverse_events.csv").write_bytes(content.encode("utf-8"))
    with pytest.raises(InputError, match=r"adverse_events\.csv: the file is empty"):
        read_records(path)


def test_header_only_form_converts_nothing_and_says_so(records_copy):
    path = records_copy(adverse_events=lambda df: df.iloc[0:0])
    study, report, rejects = _rejects(path)
    assert report.counts["adverse_events"].read == 0
    assert len(study["AE"]) == 0 and rejects.empty


def test_unknown_subject_and_cascade_from_rejected_subject(records_copy):
    def subjects(df):
        df.loc[df.subject_id == "03", "sex"] = "woman?"  # not a SEX term: subject rejected
        return df

    def ae(df):
        df.loc[0, "subject_id"] = "99"
        return df

    study, _report, rejects = _rejects(records_copy(subjects=subjects, adverse_events=ae))
    assert rejects[rejects.form == "subjects"].field.tolist() == ["sex"]
    ae_reject = rejects[rejects.form == "adverse_events"]
    assert ae_reject.reason.tolist() == ["subject is not in subjects.csv"]
    lab_rejects = rejects[rejects.form == "labs"]
    assert len(lab_rejects) == 54  # subject 03's 55 lab rows less the missing CA 19-9
    assert set(lab_rejects.reason) == {"the subject's row in subjects.csv was rejected (see that reject)"}
    assert "MSC-SLE-2009-01-03" not in set(study["LB"].USUBJID)


def test_extra_column_is_reported_not_silently_dropped(records_copy):
    path = records_copy(labs=lambda df: df.assign(fasting="Y"))
    _, _, rejects = _rejects(path)
    assert rejects.values.tolist() == [["labs", "labs.csv", 1, "fasting", "",
                                        rejects.reason.iloc[0], "REJ-REC-003"]]
    assert "not part of the 'labs' form" in rejects.reason.iloc[0]


def test_study_definition_errors_name_the_field(records_copy):
    path = records_copy()
    text = (path / "study.yaml").read_text(encoding="utf-8").replace("country: CHN", "country: China")
    (path / "study.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(StudyDefinitionError, match=r"sites/0/country"):
        read_records(path)


def test_xlsx_workbook_gives_the_same_study(tmp_path, example_dir):
    book = tmp_path / "records.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xl:
        for form in ("subjects", "exposures", "adverse_events", "labs", "findings", "vital_signs", "ecg",
                     "medical_history", "medications", "disposition"):
            pd.read_csv(example_dir / f"{form}.csv", dtype=str, keep_default_na=False).to_excel(
                xl, sheet_name=form, index=False)
    (tmp_path / "study.yaml").write_bytes((example_dir / "study.yaml").read_bytes())
    from_csv, _ = build_study(read_records(example_dir))
    from_xlsx, report = build_study(read_records(book))
    assert len(report) == 0
    for name in from_csv.names:
        pd.testing.assert_frame_equal(from_csv[name], from_xlsx[name], check_dtype=True)


def test_xlsx_time_cells_and_seconds_read_as_a_csv_holds_them(tmp_path, records_copy):
    """An Excel time cell (the vital_signs time typed 08:58, formatted hh:mm) is a datetime.time, not a date: it
    reads as "08:58" ("08:58:07" with seconds); a date-time cell keeps its seconds (2009-03-28T09:52:30), as the
    same text in a CSV does."""
    def with_seconds(df):
        df.loc[0, "start_datetime"] = "2009-03-28T09:52:30"
        return df

    def with_seconds_time(df):
        df.loc[0, "time"] = "08:58:07"
        return df

    folder = records_copy(adverse_events=with_seconds, vital_signs=with_seconds_time)
    book = tmp_path / "records.xlsx"
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for form in ("subjects", "exposures", "adverse_events", "vital_signs"):
        df = pd.read_csv(folder / f"{form}.csv", dtype=str, keep_default_na=False).astype(object)
        if form == "vital_signs":  # Excel cells holding a time only (pandas' to_excel would write text)
            df["time"] = [datetime.time(*map(int, t.split(":"))) for t in df["time"]]
        if form == "adverse_events":  # Excel date-time cells
            for col in ("start_datetime", "end_datetime"):
                df[col] = [datetime.datetime.fromisoformat(t) for t in df[col]]
        ws = wb.create_sheet(form)
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append(list(row))
    for cell in (c for c in wb["vital_signs"]["D"][1:]):
        assert isinstance(cell.value, datetime.time)
        cell.number_format = "hh:mm"
    wb.save(book)
    (tmp_path / "study.yaml").write_bytes((folder / "study.yaml").read_bytes())
    from_xlsx, report = build_study(read_records(book))
    assert len(report) == 0
    vs = from_xlsx["VS"]
    baseline = vs[vs["USUBJID"].eq("MSC-SLE-2009-01-01") & vs["VSDTC"].str.startswith("2009-09-30")]
    # subject 01's baseline vital signs, all 2009-09-30 08:58 in vital_signs.csv; its first row (SYSBP) at 08:58:07
    at = baseline.set_index("VSTESTCD")["VSDTC"]
    assert at["SYSBP"] == "2009-09-30T08:58:07" and at["DIABP"] == "2009-09-30T08:58"
    ae = from_xlsx["AE"]
    assert ae["AESTDTC"].tolist() == ["2009-03-28T09:52:30"] and ae["AEENDTC"].tolist() == ["2009-03-28T10:32"]
    for name in ("VS", "AE"):  # the same study as the CSV folder's
        pd.testing.assert_frame_equal(build_study(read_records(folder))[0][name], from_xlsx[name])


@pytest.mark.parametrize(("cell", "text"), [
    (datetime.time(0, 0), "00:00"),  # a time cell at midnight is a time collected (a date-time's is a date)
    (datetime.time(8, 58, 0, 500000), "08:58:00.5"),  # shown as it is: the time check rejects it as in a CSV
    (datetime.datetime(2009, 3, 28, 0, 0), "2009-03-28"),
    (datetime.datetime(2009, 3, 28, 9, 52, 30), "2009-03-28T09:52:30"),
])
def test_excel_cell_text(cell, text):
    assert cell_text(cell, "General") == text


@pytest.mark.parametrize("form", ["subjects", "exposures", "adverse_events", "labs", "findings", "ecg",
                                  "medical_history", "medications", "disposition"])
def test_column_checker_agrees_with_jsonschema(form, example_dir):
    """The vectorised checker must flag exactly the rows jsonschema flags (good rows and broken ones)."""
    root = mappings.schema("records")
    row_schema = root["$defs"][form]
    df = pd.read_csv(example_dir / f"{form}.csv", dtype=str, keep_default_na=False).head(20)
    # break some cells in ways the schema forbids
    breakers = {"subject_id": "a b c", "start_datetime": "2009/01/01", "collection_datetime": "2009-1-5",
                "dose": "1,5", "exam": "MRI", "result": "", "birth_date": "1970-13", "ae_number": "",
                "start_date": "2001/07", "ongoing": "maybe", "start": "2009/01/01",
                "date": "2015-1-5"}
    for i, (col, bad) in enumerate(breakers.items()):
        if col in df.columns:
            df.loc[(i * 2) % len(df), col] = bad
    validator = jsonschema.Draft202012Validator({**row_schema, "$defs": root["$defs"]})
    expected = [not validator.is_valid({k: v for k, v in row.items() if v != ""}) for row in df.to_dict("records")]
    flagged = pd.Series(False, index=df.index)
    for problem in check_rows(df, row_schema, root):
        flagged |= problem.mask
    assert flagged.tolist() == expected
    assert any(expected)  # the breakers did break something in every form
    assert all(p.mask.any() for p in check_rows(df, row_schema, root))  # a problem is yielded only with rows
    clean = pd.read_csv(example_dir / f"{form}.csv", dtype=str, keep_default_na=False)  # the example: valid rows
    assert all(validator.is_valid({k: v for k, v in row.items() if v != ""}) for row in clean.to_dict("records"))
    assert list(check_rows(clean, row_schema, root)) == []


@pytest.mark.parametrize(("sep", "called"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_separated_by_another_character_says_so(records_copy, sep, called):
    """Excel in many locales saves 'CSV' with semicolons: the error names the separator it found, not only the
    columns it misses."""
    folder = records_copy()
    labs = folder / "labs.csv"
    text = labs.read_text(encoding="utf-8").replace(",", sep)
    labs.write_text(text.replace(".", ",") if sep == ";" else text, encoding="utf-8")  # (with decimal commas too)
    with pytest.raises(InputError, match=f"labs.csv: the header row is separated by {called} .*, not by "
                                         "commas"):
        read_records(folder)
