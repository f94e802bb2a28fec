"""Every rule: data that breaks it and data that passes it; the registry (rules as data + functions); the docs.

Most breaking cases are the seeded-defect corpus (tests/data/defects/corpus.yaml, test_corpus.py); the table
here adds the rules the corpus cannot reach (engine findings, notices) and the boundary cases that must pass.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE, REPO
from msc_interop.study import Study
from msc_interop.validate import (
    Finding,
    Scope,
    fhir_rules,
    get_rule,
    list_rules,
    validate_paths,
    validate_study,
)
from msc_interop.validate import registry as registry_module
from msc_interop.validate.docs import rules_markdown
from msc_interop.validate.registry import registered_functions

from .conftest import FHIR_DATA, mutate, unexpected
from .rule_cases_prmh import PRMH_CASES
from .test_adam_rules import MADE_IDS as ADAM_MADE_IDS
from .test_define_versions import _package
from .test_encoding import _xpt
from .test_standard import _copy, _ts_version, _xpt_edit

CORPUS = yaml.safe_load((REPO / "tests" / "data" / "defects" / "corpus.yaml").read_text(encoding="utf-8"))

Check = Callable[[Study, Path, Path], list[Finding]]


def _study(**kw) -> Check:
    return lambda study, _out, _tmp: validate_study(mutate(study, **kw)).findings


def _study_without(name: str, **kw) -> Check:
    """_study, with dataset `name` left out (the example study has TA/TE since to-sdtm writes them)."""
    def run(study: Study, _out: Path, _tmp: Path) -> list[Finding]:
        changed = mutate(study, **kw)
        return validate_study(Study(changed.meta, {n: changed[n] for n in changed.names if n != name})).findings
    return run


def _split_package(lose: str | None) -> Check:
    """The bundled records to XPT with LB split by LBCAT (--max-file-size 100KB), one piece file removed."""
    def run(_study: Study, _out: Path, tmp: Path) -> list[Finding]:
        from msc_interop import api

        api.to_sdtm(EXAMPLE, tmp / "split", formats=["xpt"], validate=False, max_file_size=100_000,
                    created="2026-01-01T00:00:00")
        if lose:
            (tmp / "split" / "xpt" / lose).unlink()
        return validate_paths([tmp / "split" / "xpt"]).findings
    return run


def _new(check: Check) -> Check:
    """The check's findings other than the judged ones of the clean output (conftest.KNOWN_OWN_FINDINGS)."""
    return lambda study, out, tmp: unexpected(check(study, out, tmp))


def _bundle(*patches: tuple[str, object]) -> Check:
    def run(_study: Study, _out: Path, tmp: Path) -> list[Finding]:
        bundle = json.loads((FHIR_DATA / "bundle_r4.json").read_text(encoding="utf-8"))
        for pointer, value in patches:
            *parents, last = pointer.strip("/").split("/")
            node = bundle
            for p in parents:
                node = node[int(p)] if isinstance(node, list) else node[p]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        path = tmp / "bundle.json"
        path.write_text(json.dumps(bundle), encoding="utf-8")
        return fhir_rules([path], "R4")

    return run


def _records(edit: Callable[[Path], None]) -> Check:
    def run(_study: Study, _out: Path, tmp: Path) -> list[Finding]:
        folder = tmp / "records"
        shutil.copytree(EXAMPLE, folder)
        edit(folder)
        return validate_paths([folder]).findings

    return run


def _edit_labs(folder: Path) -> None:
    labs = pd.read_csv(folder / "labs.csv", dtype=str, keep_default_na=False)
    labs.loc[0, "test"] = "CA199X"
    labs.to_csv(folder / "labs.csv", index=False, lineterminator="\n")


def _write(name: str, data: bytes) -> Check:
    def run(_study: Study, _out: Path, tmp: Path) -> list[Finding]:
        (tmp / name).write_bytes(data)
        return validate_paths([tmp / name]).findings

    return run


def _xpt_bytes(*texts: bytes) -> Check:
    """A TS-like XPT whose TSVAL values are these bytes, validated as a folder."""
    def run(_study: Study, _out: Path, tmp: Path) -> list[Finding]:
        _xpt(tmp / "ts.xpt", list(texts))
        return validate_paths([tmp]).findings

    return run


def _numeric_ae_dates(variable_format: dict[str, str]) -> Check:
    """The to-sdtm AE alone, its AESTDTC as SAS numbers (days from 1960-01-01) with these formats."""
    def run(_study: Study, out: Path, tmp: Path) -> list[Finding]:
        import pyreadstat

        df, meta = pyreadstat.read_xport(str(out / "xpt" / "ae.xpt"))
        days = pd.to_datetime(df["AESTDTC"].str[:10], errors="coerce") - pd.Timestamp("1960-01-01")
        df["AESTDTC"] = days.dt.days.astype("float64")
        pyreadstat.write_xport(df, str(tmp / "ae.xpt"), table_name="AE", file_label=meta.file_label or "",
                               column_labels=meta.column_labels, file_format_version=5,
                               variable_format=variable_format)
        return validate_paths([tmp / "ae.xpt"]).findings
    return run


def _transport_version(version: int) -> Check:
    """The to-sdtm AE alone, written by pyreadstat as a SAS transport file of this version (5 or 8)."""
    def run(_study: Study, out: Path, tmp: Path) -> list[Finding]:
        import pyreadstat

        df, meta = pyreadstat.read_xport(str(out / "xpt" / "ae.xpt"))
        pyreadstat.write_xport(df, str(tmp / "ae.xpt"), table_name="AE", file_label=meta.file_label or "",
                               column_labels=meta.column_labels, file_format_version=version)
        return validate_paths([tmp / "ae.xpt"]).findings
    return run


def _ts_case(define: bool) -> Check:
    """The to-sdtm XPT output whose TS states SDTMIG 3.2 (with or without its define.xml, which states 3.4)."""
    def run(_study: Study, out: Path, tmp: Path) -> list[Finding]:
        folder = _copy(out, tmp, define=define)
        _xpt_edit(folder / "ts.xpt", _ts_version("3.2"))
        return validate_paths([folder]).findings

    return run


def _def_class_case() -> Check:
    def run(_study: Study, out: Path, tmp: Path) -> list[Finding]:
        folder = _copy(out, tmp)
        path = folder / "define.xml"
        path.write_text(path.read_text(encoding="utf-8").replace('<def:Class Name="EVENTS"/>',
                                                                 '<def:Class Name="FINDINGS"/>'), encoding="utf-8")
        return validate_paths([folder]).findings

    return run


def _cm() -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["MSC-SLE-2009"], "DOMAIN": ["CM"], "USUBJID": ["MSC-SLE-2009-01-01"],
                         "CMSEQ": [1], "CMTRT": ["PREDNISONE"]})


def _qs() -> pd.DataFrame:
    """A questionnaire record: QS has no codelist bindings in msc-interop (MSC-SDTM-023's notice)."""
    return pd.DataFrame({"STUDYID": ["MSC-SLE-2009"], "DOMAIN": ["QS"], "USUBJID": ["MSC-SLE-2009-01-01"],
                         "QSSEQ": [1], "QSTESTCD": ["SLEDAI"], "QSTEST": ["SLEDAI-2K Total Score"],
                         "QSCAT": ["SLEDAI-2K"], "QSORRES": ["4"]})


def _supp_subject_level(study: Study) -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["MSC-SLE-2009"], "RDOMAIN": ["DM"], "USUBJID": ["MSC-SLE-2009-01-01"],
                         "IDVAR": [""], "IDVARVAL": [""], "QNAM": ["RACE1"], "QLABEL": ["Race 1"], "QVAL": ["ASIAN"],
                         "QORIG": ["CRF"], "QEVAL": [""]})


def _relrec(idvarval: str) -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": ["MSC-SLE-2009"], "RDOMAIN": ["AE"], "USUBJID": ["MSC-SLE-2009-01-04"],
                         "IDVAR": ["AESEQ"], "IDVARVAL": [idvarval], "RELTYPE": [""], "RELID": ["1"]})


def _ds(subjects: range, decod: str = "COMPLETED") -> pd.DataFrame:
    ids = [f"MSC-SLE-2009-01-0{i}" for i in subjects]
    return pd.DataFrame({"STUDYID": "MSC-SLE-2009", "DOMAIN": "DS", "USUBJID": ids, "DSSEQ": 1,
                         "DSTERM": decod, "DSDECOD": decod, "DSCAT": "DISPOSITION EVENT", "DSSTDTC": "2009-12-01"})


def _cells(*cells: tuple[str, int, str, object]) -> list[dict[str, object]]:
    return [{"dataset": d, "row": r, "variable": v, "value": x} for d, r, v, x in cells]


_ARM = "UC-MSC 1x10^6 cells/kg IV on Days 0 and 7"  # the example study's one arm (ARMCD UCMSC)


def _ta(*pairs: tuple[str, str]) -> pd.DataFrame:
    """A Trial Arms dataset of these (ARMCD, ARM) arms, two elements each."""
    rows = [(cd, arm, order) for cd, arm in pairs for order in (1, 2)]
    return pd.DataFrame({"STUDYID": "MSC-SLE-2009", "DOMAIN": "TA", "ARMCD": [r[0] for r in rows],
                         "ARM": [r[1] for r in rows], "TAETORD": [r[2] for r in rows],
                         "ETCD": ["SCRN" if r[2] == 1 else "TRT" for r in rows],
                         "EPOCH": ["SCREENING" if r[2] == 1 else "TREATMENT" for r in rows]})


_TA = _ta(("UCMSC", _ARM), ("PBO", "Placebo"))


# (rule, case name, check, fires?)
def _odm_export(old: str = "", new: str = "") -> Check:
    """The bundled ODM export (with its mapping), text `old` replaced by `new`, through validate_paths."""
    def run(_study: Study, _out: Path, tmp: Path) -> list[Finding]:
        src = REPO / "fixtures" / "example_study_odm"
        text = (src / "example_study.odm.xml").read_text(encoding="utf-8")
        (tmp / "export.xml").write_text(text.replace(old, new, 1) if old else text, encoding="utf-8")
        (tmp / "odm-map.yaml").write_text((src / "odm-map.yaml").read_text(encoding="utf-8").replace(
            "../example_study/study.yaml", (EXAMPLE / "study.yaml").as_posix()), encoding="utf-8")
        return validate_paths([tmp / "export.xml"]).findings
    return run


CASES: list[tuple[str, str, Check, bool]] = [
    ("MSC-REC-002", "an attribute the ODM schema does not allow",
     _odm_export('<ItemData ItemOID="IT.DM.SEX" Value="F"/>', '<ItemData ItemOID="IT.DM.SEX" Value="F" Bogus="1"/>'),
     True),
    ("MSC-REC-002", "an ODM root without its required FileOID",
     _odm_export('FileOID="MSC-INTEROP.MSC-SLE-2009" ', ""), True),
    ("MSC-REC-002", "the bundled ODM export", _odm_export(), False),
    # --- rules the corpus cannot reach -------------------------------------------------------------------
    ("MSC-SDTM-023", "a dataset msc-interop does not describe", _study(add={"QS": _qs()}), True),
    ("MSC-SDTM-023", "only described datasets", _study(), False),
    ("MSC-REC-001", "a lab record with an unknown test", _records(_edit_labs), True),
    ("MSC-REC-001", "the bundled records", _records(lambda folder: None), False),
    ("MSC-IO-001", "a .json file that is not JSON", _write("lb.json", b'{"datasetJSONVersion": "1.1.0", '), True),
    ("MSC-IO-001", "a readable Dataset-JSON file",
     lambda s, out, tmp: validate_paths([out / "json" / "dm.json"]).findings, False),
    ("MSC-DEF-010", "a Define-XML 2.0 document (no XSD shipped)",
     lambda s, out, tmp: validate_paths([_package(out, tmp, "2.0")]).findings, True),
    ("MSC-DEF-010", "a Define-XML 2.1 document", lambda s, out, tmp: validate_paths([out / "xpt"]).findings, False),
    ("MSC-DEF-011", "AE declared a Findings dataset in define.xml", _def_class_case(), True),
    ("MSC-DEF-012", "LB split in three, lbhe.xpt gone", _split_package(lose="lbhe.xpt"), True),
    ("MSC-DEF-012", "LB split in three, every piece here", _split_package(lose=None), False),
    ("MSC-SDTM-025", "TS says SDTMIG 3.2 (no define.xml)", _ts_case(define=False), True),
    ("MSC-SDTM-026", "define.xml says 3.4, TS says 3.2", _ts_case(define=True), True),
    ("MSC-IO-003", "a byte Windows-1252 leaves undefined", _xpt_bytes(b"odd \x81 byte"), True),
    ("MSC-IO-003", "a Windows-1252 apostrophe", _xpt_bytes(b"Alzheimer\x92s"), False),
    ("MSC-IO-004", "an XPT file in Windows-1252", _xpt_bytes(b"Alzheimer\x92s"), True),
    ("MSC-IO-004", "an XPT file in UTF-8", _xpt_bytes("caf\u00e9".encode()), False),
    ("MSC-IO-005", "UTF-8 'É' beside a Windows-1252 apostrophe",
     _xpt_bytes(b"Alzheimer\x92s", "R\u00c9ACTION".encode()), True),
    ("MSC-IO-005", "a file all Windows-1252", _xpt_bytes(b"Alzheimer\x92s", "R\u00c9ACTION".encode("cp1252")), False),
    ("MSC-XPT-006", "AE.AESTDTC a SAS date (DATE9.)", _numeric_ae_dates({"AESTDTC": "DATE9"}), True),
    ("MSC-XPT-006", "AE.AESTDTC numbers with no format", _numeric_ae_dates({}), True),
    ("MSC-XPT-006", "the to-sdtm XPT output (character --DTC)",
     lambda s, out, tmp: validate_paths([out / "xpt"]).findings, False),
    ("MSC-XPT-007", "a SAS transport version 8 file (LIBV8 header)", _transport_version(8), True),
    ("MSC-XPT-007", "a SAS transport version 5 file (pyreadstat)", _transport_version(5), False),
    ("MSC-XPT-007", "the to-sdtm XPT output", lambda s, out, tmp: validate_paths([out / "xpt"]).findings, False),
    ("MSC-IO-002", "a path that does not exist",
     lambda s, out, tmp: validate_paths([tmp / "missing"]).findings, True),
    ("MSC-IO-002", "a .txt file", _write("notes.txt", b"hello"), True),
    ("MSC-IO-002", "a to-sdtm output folder", lambda s, out, tmp: validate_paths([out / "csv"]).findings, False),
    ("MSC-SDTM-039", "--ct states a CT package other than the one held",
     lambda s, out, tmp: validate_paths([out / "xpt"], ct="2020-12-18").findings, True),
    ("MSC-SDTM-039", "--ct states the CT package held",
     lambda s, out, tmp: validate_paths([out / "xpt"], ct="2025-03-25").findings, False),
    # --- boundary cases that must pass ------------------------------------------------------------------------
    ("MSC-SDTM-001", "a Permissible variable dropped", _study(drop={"dataset": "DM", "variable": "BRTHDTC"}), False),
    ("MSC-SDTM-003", "a Permissible variable dropped", _study(drop={"dataset": "DM", "variable": "BRTHDTC"}), False),
    ("MSC-SDTM-002", "an Expected variable null", _study(cells=_cells(("LB", 1, "LBORRES", None))), False),
    ("MSC-SDTM-004", "RACE MULTIPLE (SDTMIG DM assumption)", _study(cells=_cells(("DM", 1, "RACE", "MULTIPLE"))),
     False),
    ("MSC-SDTM-005", "an empty extensible value", _study(cells=_cells(("LB", 1, "LBNRIND", None))), False),
    ("MSC-SDTM-006", "partial dates in SDTM forms",
     _study(cells=_cells(("DM", 1, "BRTHDTC", "1961"), ("DM", 2, "BRTHDTC", "1986-11"),
                         ("DM", 3, "BRTHDTC", "1958---30"), ("DM", 4, "RFICDTC", "2009-03-20T08"))), False),
    ("MSC-SDTM-007", "the day before RFSTDTC is -1",
     _study(cells=_cells(("LB", 6, "LBDTC", "2009-10-03T08:00"), ("LB", 6, "LBDY", -1))), False),
    ("MSC-SDTM-007", "a date past 2262 (a year typo) is a date like any other, not a crash",
     _study(cells=_cells(("AE", 1, "AESTDTC", "2309-04-07"), ("AE", 1, "AESTDY", None))), False),
    ("MSC-SDTM-008", "days -1 and 1",
     _study(cells=_cells(("LB", 6, "LBDTC", "2009-10-03T08:00"), ("LB", 6, "LBDY", -1),
                         ("LB", 7, "LBDTC", "2009-10-04T08:00"), ("LB", 7, "LBDY", 1))), False),
    ("MSC-SDTM-009", "a partial date with a null study day",
     _study(cells=_cells(("LB", 23, "LBDTC", "2011-10"), ("LB", 23, "LBDY", None))), False),
    ("MSC-SDTM-010", "the same --SEQ in two subjects", _study(), False),
    ("MSC-SDTM-011", "every subject in DM", _study(), False),
    ("MSC-SDTM-012", "dates that cannot be ordered at their shared precision",
     _study(cells=_cells(("AE", 1, "AESTDTC", "2009-03"), ("AE", 1, "AESTDY", None),
                         ("AE", 1, "AEENDTC", "2009-03-28"))), False),
    ("MSC-SDTM-027", "a birth year that is the consent year cannot be ordered",
     _study(cells=_cells(("DM", 2, "BRTHDTC", "2009"))), False),
    ("MSC-SDTM-027", "born after consent", _study(cells=_cells(("DM", 2, "BRTHDTC", "2010-05-01"))), True),
    ("MSC-SDTM-013", "an unscheduled visit with its own number and name",
     _study(cells=_cells(("LB", 2, "VISITNUM", 4.1), ("LB", 2, "VISIT", "UNSCHEDULED 4.1"))), False),
    ("MSC-SDTM-014", "an unscheduled visit with its own number and name",
     _study(cells=_cells(("LB", 2, "VISITNUM", 4.1), ("LB", 2, "VISIT", "UNSCHEDULED 4.1"))), False),
    ("MSC-SDTM-015", "'<2' with a null LBSTRESN",
     _study(cells=_cells(("LB", 31, "LBSTRESC", "<2"), ("LB", 31, "LBSTRESN", None))), False),
    ("MSC-SDTM-016", "a value on the upper limit is NORMAL (limits inclusive)",
     _study(cells=_cells(("LB", 36, "LBSTRESC", "5"), ("LB", 36, "LBSTRESN", 5.0))), False),
    ("MSC-SDTM-016", "HIGH on the upper limit (beyond it before rounding to the standard precision)",
     _study(cells=_cells(("LB", 36, "LBSTRESC", "5"), ("LB", 36, "LBSTRESN", 5.0), ("LB", 36, "LBNRIND", "HIGH"))),
     False),
    ("MSC-SDTM-016", "LOW on the upper limit",
     _study(cells=_cells(("LB", 36, "LBSTRESC", "5"), ("LB", 36, "LBSTRESN", 5.0), ("LB", 36, "LBNRIND", "LOW"))),
     True),
    ("MSC-SDTM-016", "ABNORMAL is not contradicted by the range",
     _study(cells=_cells(("LB", 36, "LBNRIND", "ABNORMAL"))), False),
    ("MSC-SDTM-017", "an 8-character code", _study(cells=_cells(("LB", 31, "LBTESTCD", "CA19_9AG"))), False),
    ("MSC-SDTM-018", "a code with an underscore", _study(cells=_cells(("SUPPEX", 1, "QNAM", "WT_KG"))), False),
    ("MSC-SDTM-019", "one flag per test, several tests per subject", _study(), False),
    ("MSC-SDTM-020", "DOMAIN equals the dataset name", _study(), False),
    ("MSC-SDTM-021", "one DM record per subject", _study(), False),
    ("MSC-SDTM-022", "a subject-level qualifier (IDVAR null)",
     _study(add={"SUPPDM": _supp_subject_level(None)}), False),
    ("MSC-SDTM-024", "a test code that is not CT is not paired",
     _study(cells=_cells(("LB", 33, "LBTESTCD", "CA199"))), False),
    ("MSC-FHIR-006", "a LOINC answer code", _bundle(("/entry/1/resource/code/coding/0/code", "LA6576-8")), False),
    ("MSC-FHIR-007", "A (abnormal) for a high value", _bundle(
        ("/entry/2/resource/interpretation/0/coding/0/code", "A")), False),
    ("MSC-FHIR-008", "an absolute reference to a server outside the Bundle", _bundle(
        ("/entry/1/resource/subject/reference", "https://fhir.example.org/Patient/1")), False),
    ("MSC-FHIR-008", "a reference to a contained resource", _bundle(
        ("/entry/3/resource/contained", [{"resourceType": "Medication", "id": "cells",
                                          "code": {"text": "UC-MSC"}}]),
        ("/entry/3/resource/medicationReference", {"reference": "#cells"}),
        ("/entry/3/resource/medicationCodeableConcept", None)), False),
    ("MSC-FHIR-010", "year-only and year-month dateTimes", _bundle(
        ("/entry/1/resource/effectiveDateTime", "2009"), ("/entry/2/resource/effectiveDateTime", "2009-03")), False),
    ("MSC-FHIR-002", "every required code valid", _bundle(), False),
    # --- P21 / cross-domain checks: one breaking and one passing case each ---------------------------------
    ("MSC-SDTM-028", "an AE without AEENDTC or another end", _study(cells=_cells(("AE", 1, "AEENDTC", None),
                                                                                ("AE", 1, "AEENDY", None))), True),
    ("MSC-SDTM-028", "an ongoing AE (AEENRF = ONGOING)",
     _study(cells=_cells(("AE", 1, "AEENDTC", None), ("AE", 1, "AEENDY", None),
                         ("AE", 1, "AEOUT", "RECOVERING/RESOLVING"), ("AE", 1, "AEENRF", "ONGOING"))), False),
    ("MSC-SDTM-029", "a numeric LBORRES without its unit", _study(cells=_cells(("LB", 1, "LBORRESU", None))), True),
    ("MSC-SDTM-029", "a text result without a unit",
     _study(cells=_cells(("LB", 1, "LBORRESU", None), ("LB", 1, "LBORRES", "NEGATIVE"))), False),
    ("MSC-SDTM-030", "AESHOSP Y with AESER N", _study(cells=_cells(("AE", 1, "AESHOSP", "Y"))), True),
    ("MSC-SDTM-030", "AESHOSP Y with AESER Y",
     _study(cells=_cells(("AE", 1, "AESHOSP", "Y"), ("AE", 1, "AESER", "Y"))), False),
    ("MSC-SDTM-031", "not recovered with an end date",
     _study(cells=_cells(("AE", 1, "AEOUT", "NOT RECOVERED/NOT RESOLVED"))), True),
    ("MSC-SDTM-031", "recovered without an end date",
     _study(cells=_cells(("AE", 1, "AEENDTC", None), ("AE", 1, "AEENDY", None))), True),
    ("MSC-SDTM-031", "recovering with an end date (not checked)",
     _study(cells=_cells(("AE", 1, "AEOUT", "RECOVERING/RESOLVING"))), False),
    ("MSC-SDTM-032", "one AFP result in another unit", _study(cells=_cells(("LB", 2, "LBSTRESU", "ng/mL"))), True),
    ("MSC-SDTM-032", "a unit null (no second unit)", _study(cells=_cells(("LB", 2, "LBSTRESU", None))), False),
    ("MSC-SDTM-033", "treated in another arm", _study(cells=_cells(("DM", 1, "ACTARMCD", "PBO"))), True),
    ("MSC-SDTM-033", "ACTARMCD null (not treated: another rule's matter)",
     _study(cells=_cells(("DM", 1, "ACTARMCD", None))), False),
    ("MSC-SDTM-034", "a dose before RFXSTDTC", _study(cells=_cells(("EX", 1, "EXSTDTC", "2009-10-03T09:19"))), True),
    ("MSC-SDTM-034", "a dose at a shared precision (date only, same day)",
     _study(cells=_cells(("EX", 1, "EXSTDTC", "2009-10-04"))), False),
    ("MSC-SDTM-035", "no LB baseline flags at all", _study(drop={"dataset": "LB", "variable": "LBLOBXFL"}), True),
    ("MSC-SDTM-035", "screen failures without LB baseline",
     _study(drop={"dataset": "LB", "variable": "LBLOBXFL"},
            cells=_cells(*(("DM", i, "ARMCD", "SCRNFAIL") for i in range(1, 10)))), False),
    ("MSC-SDTM-036", "RELREC names AESEQ 7, which the subject has not", _study(add={"RELREC": _relrec("7")}), True),
    ("MSC-SDTM-036", "RELREC names AESEQ 1", _study(add={"RELREC": _relrec("1")}), False),
    ("MSC-SDTM-037", "DS holds 3 of 9 subjects", _study(add={"DS": _ds(range(1, 4))}), True),
    ("MSC-SDTM-037", "DS holds every subject", _study(add={"DS": _ds(range(1, 10))}), False),
    ("MSC-SDTM-037", "no DS dataset: not checked", _study(), False),
    ("MSC-SDTM-038", "DS DEATH, DTHFL null", _study(add={"DS": _ds(range(1, 10), "DEATH")}), True),
    ("MSC-SDTM-038", "DS DEATH, DTHFL Y", _study(add={"DS": _ds(range(1, 10), "DEATH")},
                                                 cells=_cells(*(("DM", i, "DTHFL", "Y") for i in range(1, 10)))),
     False),
    # DM arms against TA (the example DM: every subject ARMCD/ACTARMCD UCMSC, ARM/ACTARM _ARM); AGE (row 1: 47 YEARS)
    ("MSC-SDTM-042", "ARM 'Placebo X' for ARMCD UCMSC",
     _study(add={"TA": _TA}, cells=_cells(("DM", 1, "ARM", "Placebo X"))), True),
    ("MSC-SDTM-042", "ACTARMCD XYZ, not an arm of TA",
     _study(add={"TA": _TA}, cells=_cells(("DM", 2, "ACTARMCD", "XYZ"), ("DM", 2, "ACTARM", "XYZ arm"))), True),
    ("MSC-SDTM-042", "the example's arms, all in TA", _study(add={"TA": _TA}), False),
    ("MSC-SDTM-042", "ARM 'Placebo X' but no TA dataset: not checked",
     _study_without("TA", cells=_cells(("DM", 1, "ARM", "Placebo X"))), False),
    ("MSC-SDTM-042", "ARM 'Placebo X' against the TA to-sdtm derived from study.yaml",
     _study(cells=_cells(("DM", 1, "ARM", "Placebo X"))), True),
    ("MSC-SDTM-042", "SDTMIG 3.4 screen failure: ARMCD/ARM/ACTARMCD/ACTARM null, ARMNRS SCREEN FAILURE",
     _study(add={"TA": _TA}, cells=_cells(("DM", 1, "ARMCD", ""), ("DM", 1, "ARM", ""), ("DM", 1, "ACTARMCD", ""),
                                         ("DM", 1, "ACTARM", ""), ("DM", 1, "ARMNRS", "SCREEN FAILURE"))), False),
    ("MSC-SDTM-042", "SDTMIG 3.2 codes: Scrnfail/Screen Failure (pilot's case), NOTTRT/Not Treated",
     _study(add={"TA": _TA}, cells=_cells(("DM", 1, "ARMCD", "Scrnfail"), ("DM", 1, "ARM", "Screen Failure"),
                                         ("DM", 1, "ACTARMCD", "Scrnfail"), ("DM", 1, "ACTARM", "Screen Failure"),
                                         ("DM", 2, "ACTARMCD", "NOTTRT"), ("DM", 2, "ACTARM", "Not Treated"))), False),
    ("MSC-SDTM-043", "TA ARMCD PBO named two ways",
     _study(add={"TA": _ta(("UCMSC", _ARM), ("PBO", "Placebo"), ("PBO", "Saline"))}), True),
    ("MSC-SDTM-043", "TA ARM Placebo under two codes",
     _study(add={"TA": _ta(("UCMSC", _ARM), ("PBO", "Placebo"), ("PLA", "Placebo"))}), True),
    ("MSC-SDTM-043", "TA one-to-one", _study(add={"TA": _TA}), False),
    ("MSC-SDTM-044", "AGE -5", _study(cells=_cells(("DM", 2, "AGE", -5))), True),
    ("MSC-SDTM-044", "AGE 0 DAYS (a newborn)", _study(cells=_cells(("DM", 2, "AGE", 0), ("DM", 2, "AGEU", "DAYS"))),
     False),
    ("MSC-SDTM-045", "AGE 131 YEARS", _study(cells=_cells(("DM", 2, "AGE", 131))), True),
    ("MSC-SDTM-045", "AGE 1600 MONTHS (133 years)",
     _study(cells=_cells(("DM", 2, "AGE", 1600), ("DM", 2, "AGEU", "MONTHS"))), True),
    ("MSC-SDTM-045", "AGE 130 YEARS (the limit)", _study(cells=_cells(("DM", 2, "AGE", 130))), False),
    ("MSC-SDTM-045", "AGE 1500 MONTHS (125 years) in a paediatric unit",
     _study(cells=_cells(("DM", 2, "AGE", 1500), ("DM", 2, "AGEU", "MONTHS"))), False),
    # VS of the example study: subject 01's TEMP is rows 37-43, WEIGHT rows 44-50 (36.x C, 5x.x kg)
    ("MSC-SDTM-100", "one weight's VSSTRESU in LB", _study(cells=_cells(("VS", 44, "VSSTRESU", "LB"))), True),
    ("MSC-SDTM-101", "a temperature of 36.4 without a unit", _study(cells=_cells(("VS", 37, "VSORRESU", ""))), True),
    ("MSC-SDTM-101", "NOT DONE without a unit",
     _study(cells=_cells(("VS", 37, "VSORRES", "NOT DONE"), ("VS", 37, "VSORRESU", ""))), False),
    ("MSC-SDTM-102", "a temperature in mmHg", _study(cells=_cells(("VS", 37, "VSORRESU", "mmHg"))), True),
    ("MSC-SDTM-102", "a temperature in F", _study(cells=_cells(("VS", 37, "VSORRES", "98.6"),
                                                                ("VS", 37, "VSORRESU", "F"))), False),
    ("MSC-SDTM-103", "a temperature of 98.6 C", _study(cells=_cells(("VS", 37, "VSSTRESN", 98.6))), True),
    ("MSC-SDTM-103", "a temperature of 41.9 C", _study(cells=_cells(("VS", 37, "VSSTRESN", 41.9))), False),
    ("MSC-SDTM-104", "98.6 F copied unconverted into VSSTRESN",
     _study(cells=_cells(("VS", 37, "VSORRES", "98.6"), ("VS", 37, "VSORRESU", "F"), ("VS", 37, "VSSTRESN", 98.6))),
     True),
    ("MSC-SDTM-104", "98.6 F as 37 C (by hand: (98.6 - 32) x 5/9 = 37.0)",
     _study(cells=_cells(("VS", 37, "VSORRES", "98.6"), ("VS", 37, "VSORRESU", "F"), ("VS", 37, "VSSTRESN", 37.0))),
     False),
    # CM, DS, SV (issue 14). CM row 1: subject 01's cyclophosphamide, ended 2009-08-22 before RFSTDTC
    # 2009-10-04 (CMENRF BEFORE); row 2: its hydroxychloroquine, ongoing. SV row 1: subject 01's BASELINE,
    # the day of its labs, 2009-09-30.
    ("MSC-SDTM-160", "CMENRF DURING for an end before RFSTDTC", _study(cells=_cells(("CM", 1, "CMENRF", "DURING"))),
     True),
    ("MSC-SDTM-160", "the example study's CMENRF", _study(), False),
    ("MSC-SDTM-161", "ongoing with an end date", _study(cells=_cells(("CM", 2, "CMENDTC", "2012-01-01"))), True),
    ("MSC-SDTM-161", "the example study's ongoing medications", _study(), False),
    ("MSC-SDTM-162", "CMDECOD empty", _study(cells=_cells(("CM", 1, "CMDECOD", ""))), True),
    ("MSC-SDTM-162", "every medication coded", _study(), False),
    ("MSC-SDTM-163", "two disposition events in FOLLOW-UP", _study(copy_row={"dataset": "DS", "row": 1}), True),
    ("MSC-SDTM-163", "one disposition event per subject", _study(), False),
    ("MSC-SDTM-164", "SV lacks subject 01's BASELINE", _study(cells=_cells(("SV", 1, "VISITNUM", 99.0))), True),
    ("MSC-SDTM-164", "SV holds every visit of the data", _study(), False),
    ("MSC-SDTM-165", "BASELINE labs before the SV visit",
     _study(cells=_cells(("SV", 1, "SVSTDTC", "2009-10-01"), ("SV", 1, "SVENDTC", "2009-10-01"))), True),
    ("MSC-SDTM-165", "records within their SV visits", _study(), False),
    ("MSC-SDTM-165", "an SV start in year 1010 (a typo) read as 1010: the labs are within the visit",
     _study(cells=_cells(("SV", 1, "SVSTDTC", "1010-04-17"))), False),
    # SDTMIG 3.4 tables (mappings/sdtmig_domains.yaml); Cores checked by hand in P21's SDTM-IG 3.4 configuration
    ("MSC-SDTM-040", "AETPT (Model Permissible in AE) added", _study(cells=_cells(("AE", 1, "AETPT", "PRE-DOSE"))),
     True),
    ("MSC-SDTM-040", "TSVAL1 (Model Permissible in TS) added",
     _study(cells=_cells(("TS", 1, "TSVAL1", "continued"))), True),
    ("MSC-SDTM-040", "AEXSTDY: Model Permissible but a study day (exempt, as P21)",
     _new(_study(cells=_cells(("AE", 1, "AEXSTDY", 3)))), False),
    ("MSC-SDTM-040", "AESOD (Perm in the AE table) added", _new(_study(cells=_cells(("AE", 1, "AESOD", "N")))),
     False),
    ("MSC-SDTM-040", "the example study but for its judged EX and MH variables", _new(_study()), False),
    ("MSC-SDTM-041", "AETRTEM (a SUPPAE qualifier) in AE", _study(cells=_cells(("AE", 1, "AETRTEM", "Y"))), True),
    ("MSC-SDTM-041", "COVAL11 in CO (only COVAL1-COVAL10 are in the model)",
     _study(add={"CO": pd.DataFrame({"STUDYID": ["MSC-SLE-2009"], "DOMAIN": ["CO"], "USUBJID": ["MSC-SLE-2009-01-01"],
                                     "COSEQ": [1], "COVAL": ["a"], "COVAL11": ["b"]})}), True),
    ("MSC-SDTM-041", "a sponsor variable in a sponsor domain (QS: no table held)",
     _study(add={"QS": _qs().assign(QSXSCORE="4")}), False),
    ("MSC-SDTM-041", "the example study", _study(), False),
]
CASES += PRMH_CASES


@pytest.mark.parametrize(("rule_id", "name", "check", "fires"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_rule_case(example_study: Study, sdtm_output: Path, tmp_path: Path, rule_id: str, name: str,
                   check: Check, fires: bool) -> None:
    found = [f for f in check(example_study, sdtm_output, tmp_path) if f.rule_id == rule_id]
    if fires:
        assert found, f"{rule_id} did not fire on: {name}"
        assert all(f.message and "rule could not run" not in f.message for f in found)
    else:
        assert not found, found[:3]


def test_every_rule_has_breaking_and_passing_data() -> None:
    """Breaking: a corpus case or a CASES row that fires. Passing: a CASES row that does not fire, or the clean
    outputs the corpus tests check (study, to-sdtm files, bundle), which every rule of those scopes must pass."""
    broken = {c["expect"]["rule"] for part in ("study", "files", "fhir", "adam") for c in CORPUS[part]}
    broken |= {c[0] for c in CASES if c[3]}
    broken |= ADAM_MADE_IDS  # test_adam_rules.py makes each ADaM rule; its clean datasets make none
    passed = {c[0] for c in CASES if not c[3]}
    clean_scopes = {Scope.SDTM, Scope.XPT, Scope.DATASETJSON, Scope.DEFINE, Scope.FHIR, Scope.ADAM}
    passed |= {r.id for r in list_rules() if r.scope in clean_scopes}
    all_ids = {r.id for r in list_rules()}
    assert all_ids - broken == set(), "rules without breaking data"
    assert all_ids - passed == set(), "rules without passing data"


# --- registry ------------------------------------------------------------------------------------------------

def test_every_rule_has_a_function_and_every_function_a_rule() -> None:
    functions = registered_functions()
    described = {r.id for r in list_rules() if r.raised_by == "function"}
    assert set(functions) == described


def test_rules_are_data_with_unique_ids_and_citations() -> None:
    rules = list_rules()
    assert len({r.id for r in rules}) == len(rules) >= 50
    for r in rules:
        assert r.citation and r.checks and r.title
        assert r.id.split("-")[1] in {"SDTM", "XPT", "DJSON", "DEF", "FHIR", "REC", "ADAM", "IO"}
        r.message.format_map(_AnyFields())  # every template formats


class _AnyFields(dict):
    def __missing__(self, key: str) -> str:
        return "x"


def test_a_crashing_rule_is_a_finding_not_an_exception(example_study: Study, monkeypatch) -> None:
    def broken(ctx, meta):
        yield meta.finding(dataset="DM", variable="USUBJID", value="?", count=2)
        raise RuntimeError("boom")

    monkeypatch.setitem(registry_module._FUNCTIONS, "MSC-SDTM-021", broken)
    findings = unexpected(validate_study(example_study, source="study").findings)
    mine = [f for f in findings if f.rule_id == "MSC-SDTM-021"]
    assert [f.message for f in mine][-1] == "rule could not run: RuntimeError: boom"
    assert mine[-1].severity == "error" and mine[-1].file == "study"
    assert len(mine) == 2, "what the rule found before it failed is kept"
    assert {f.rule_id for f in findings} == {"MSC-SDTM-021"}, "the other rules still ran (and found nothing)"


def test_finding_messages_name_value_place_and_fix(example_study: Study) -> None:
    study = mutate(example_study, cells=_cells(("LB", 33, "LBTESTCD", "CA199"), ("AE", 1, "AESER", "No"),
                                                ("EX", 3, "EXSTDTC", "20090622T0947")))
    by_rule = {f.rule_id: f for f in validate_study(study).findings}
    assert by_rule["MSC-SDTM-005"].message.startswith(
        "LBTESTCD 'CA199' is not a term of the extensible CDISC codelist LBTESTCD (C65047, CDISC SDTM CT "
        "2025-03-25); did you mean")
    assert by_rule["MSC-SDTM-004"].message == (
        "AESER 'No' is not a term of the non-extensible CDISC codelist NY (C66742, CDISC SDTM CT 2025-03-25); "
        "did you mean N?")
    assert "write 2009-06-22T09:47" in by_rule["MSC-SDTM-006"].message
    f = by_rule["MSC-SDTM-006"]
    assert (f.dataset_or_resource, f.row_or_entry, f.usubjid, f.seq, f.variable_or_path) == (
        "EX", 3, "MSC-SLE-2009-01-02", 1, "EXSTDTC")


def test_get_rule_names_unknown_ids() -> None:
    assert get_rule("MSC-SDTM-008").title == "Study day is 0"
    with pytest.raises(Exception, match="MSC-SDTM-999"):
        get_rule("MSC-SDTM-999")


def test_docs_are_generated_from_the_rule_data() -> None:
    doc = (REPO / "docs" / "validation-rules.md").read_text(encoding="utf-8")
    assert doc == rules_markdown(), "regenerate: msc_interop.validate.docs.write_rules_doc('docs/validation-rules.md')"
    for r in list_rules():
        assert f"### {r.id}" in doc
