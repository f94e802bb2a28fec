"""The seeded-defect corpus (tests/data/defects/corpus.yaml): each case breaks one thing in a valid output of the
bundled study and the validator must report it with the right rule id AND location."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyreadstat
import pytest
import yaml
from lxml import etree

from conftest import REPO
from msc_interop.study import Study
from msc_interop.validate import Finding, Report, fhir_rules, list_rules, standard, validate_paths, validate_study

from .conftest import FHIR_DATA, KNOWN_OWN_FINDINGS, mutate, unexpected
from .extra_domains import with_extra_domains

CORPUS = yaml.safe_load((REPO / "tests" / "data" / "defects" / "corpus.yaml").read_text(encoding="utf-8"))
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["id"] for c in cases]


def test_corpus_size_and_spread() -> None:
    study, files, fhir = CORPUS["study"], CORPUS["files"], CORPUS["fhir"]
    assert len(study) + len(files) + len(fhir) >= 200
    by_dataset = Counter(c["expect"]["dataset"] for c in study)
    assert all(by_dataset[d] >= 8 for d in ("DM", "EX", "AE", "LB")), by_dataset
    assert len(by_dataset) >= 10, by_dataset
    classes = {standard.sdtm_class(d)[0] for d in by_dataset}
    assert {"INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT", "SPECIAL PURPOSE", "TRIAL DESIGN",
            "RELATIONSHIP"} <= classes, classes
    assert sum(1 for c in files if "xml" in c or c["expect"]["rule"].startswith("MSC-DEF")) >= 10
    assert len(fhir) >= 15
    adam = CORPUS["adam"]  # (run by test_corpus_adam.py)
    assert len(adam) >= 8 and {"MSC-DEF-004", "MSC-DEF-007", "MSC-ADAM-010"} <= {c["expect"]["rule"] for c in adam}
    referenced = {r.id for r in list_rules() if r.references}
    assert referenced - {c["expect"]["rule"] for c in study + files + fhir + adam} == set(), \
        "every rule with a P21 / SDTMIG reference has a seeded defect (its passing data: the clean outputs)"
    ids = _ids(study) + _ids(files) + _ids(fhir) + _ids(adam)
    assert len(ids) == len(set(ids)), "case ids are unique"


def matches(f: Finding, expect: dict[str, Any]) -> bool:
    checks = {
        "rule": f.rule_id, "dataset": f.dataset_or_resource, "resource": f.dataset_or_resource,
        "row": f.row_or_entry, "entry": f.row_or_entry, "variable": f.variable_or_path,
        "path": f.variable_or_path, "usubjid": f.usubjid, "seq": f.seq, "file": Path(f.file).name,
    }
    return all(checks[k] == v for k, v in expect.items())


def assert_found(findings: list[Finding], expect: dict[str, Any]) -> None:
    if any(matches(f, expect) for f in findings):
        return
    same_rule = [f for f in findings if f.rule_id == expect["rule"]]
    shown = "\n  ".join(str(f) for f in (same_rule or findings)[:10])
    pytest.fail(f"no finding matches {expect}; {len(findings)} finding(s), e.g.:\n  {shown}")


# --- study cases ------------------------------------------------------------------------------------------------

def _keys(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.dataset_or_resource, f.variable_or_path) for f in findings}


def test_clean_study_has_no_findings(example_study: Study) -> None:
    """Nothing but the judged findings of conftest.KNOWN_OWN_FINDINGS (Model Permissible EX and MH variables)."""
    findings = validate_study(example_study).findings
    assert unexpected(findings) == []
    assert _keys(findings) == set(KNOWN_OWN_FINDINGS), "the judged findings are still there (or update the list)"


def test_clean_extra_domains_have_no_findings_but_the_partial_check_notices(example_study: Study) -> None:
    """The generated CM, MH, DS, VS, FA, SV, SE, TA, TE, TI, RELREC the `extra` cases start from are clean: only
    the notice that their CDISC codelists were not checked (msc-interop binds codelists for its own domains)."""
    findings = unexpected(validate_study(with_extra_domains(example_study)).findings)
    assert {f.rule_id for f in findings} == {"MSC-SDTM-023"}
    # one notice each for FA and SE: CM, MH, DS, VS, SV and RELREC are msc-interop's own domains since issue 14,
    # TA, TE and TI described by mappings/sdtm_variables.yaml since their keys came from the SDTMIG (their codelists
    # are checked)
    assert sorted(f.dataset_or_resource for f in findings) == ["FA", "SE"]


@pytest.mark.parametrize("case", CORPUS["study"], ids=_ids(CORPUS["study"]))
def test_study_defect_is_found_at_its_place(example_study: Study, case: dict[str, Any]) -> None:
    base = with_extra_domains(example_study) if case.get("extra") else example_study
    broken = mutate(base, cells=case.get("set", ()), drop=case.get("drop"), copy_row=case.get("copy_row"))
    expect = dict(case["expect"])
    if "row" in expect:  # the finding names the subject and --SEQ of that row too
        df = broken[expect["dataset"]]
        row = df.iloc[expect["row"] - 1]
        if "USUBJID" in df.columns:
            expect["usubjid"] = row["USUBJID"]
        seq = f"{expect['dataset'][:2]}SEQ"
        if seq in df.columns and not pd.isna(row[seq]):
            expect["seq"] = int(row[seq])
    assert_found(validate_study(broken).findings, expect)


# --- file cases ------------------------------------------------------------------------------------------------

def test_clean_outputs_have_no_findings(sdtm_output: Path, sdtm_output_report: Report) -> None:
    report = sdtm_output_report
    assert unexpected(report.findings) == [], unexpected(report.findings)[:5]
    assert _keys(report.findings) == set(KNOWN_OWN_FINDINGS)
    assert {Path(s).name for s in report.sources} == {sdtm_output.name}


def _pointer(doc: Any, pointer: str) -> tuple[Any, str | int]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last: str | int = int(parts[-1]) if isinstance(node, list) else parts[-1]
    return node, last


def apply_patch(doc: Any, op: dict[str, Any]) -> None:
    node, key = _pointer(doc, op["pointer"])
    if op.get("delete"):
        del node[key]
    else:
        node[key] = op["value"]


def _edit_xpt(folder: Path, op: dict[str, Any]) -> None:
    path = folder / f"{op['dataset'].lower()}.xpt"
    df, meta = pyreadstat.read_xport(str(path))
    if "variable" in op:
        df.loc[op["row"] - 1, op["variable"]] = op["value"]
    new_labels = op.get("labels", {})
    labels = [new_labels.get(c, meta.column_names_to_labels.get(c, c)) for c in df.columns]
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name=op.get("member", meta.table_name),
                           file_label=meta.file_label, column_labels=labels)


def _edit_xml(folder: Path, op: dict[str, Any]) -> None:
    path = folder / "define.xml"
    tree = etree.parse(str(path))
    found = tree.xpath(op["xpath"], namespaces=NS)
    assert found, f"xpath {op['xpath']} matches nothing in {path}"
    for e in found:
        if op.get("remove") and "attribute" not in op:
            e.getparent().remove(e)
        elif op.get("remove"):
            del e.attrib[op["attribute"]]
        else:
            e.set(op["attribute"], op["value"])
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")


def _edit_csv(folder: Path, op: dict[str, Any]) -> None:
    path = folder / f"{op['dataset'].lower()}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[op["row"] - 1, op["variable"]] = op["value"]
    df.to_csv(path, index=False, lineterminator="\n")


@pytest.mark.parametrize("case", CORPUS["files"], ids=_ids(CORPUS["files"]))
def test_file_defect_is_found_at_its_place(sdtm_output: Path, tmp_path: Path, case: dict[str, Any]) -> None:
    folder = tmp_path / case["folder"]
    shutil.copytree(sdtm_output / case["folder"], folder)
    if "json" in case:
        path = folder / case["json"]["file"]
        doc = orjson.loads(path.read_bytes())
        apply_patch(doc, case["json"])
        path.write_bytes(orjson.dumps(doc))
    if "xpt" in case:
        _edit_xpt(folder, case["xpt"])
    if "csv" in case:
        _edit_csv(folder, case["csv"])
    if "xml" in case:
        _edit_xml(folder, case["xml"])
    if "delete" in case:
        (folder / case["delete"]).unlink()
    assert_found(validate_paths([folder]).findings, case["expect"])


# --- FHIR cases ------------------------------------------------------------------------------------------------

def test_clean_bundle_has_no_findings() -> None:
    assert fhir_rules([FHIR_DATA / "bundle_r4.json"], "R4") == []


@pytest.mark.parametrize("case", CORPUS["fhir"], ids=_ids(CORPUS["fhir"]))
def test_fhir_defect_is_found_at_its_place(tmp_path: Path, case: dict[str, Any]) -> None:
    bundle = orjson.loads((FHIR_DATA / case.get("bundle", "bundle_r4.json")).read_bytes())
    if case.get("ndjson"):
        lines: dict[str, Any] = {str(i + 1): e["resource"] for i, e in enumerate(bundle["entry"])}
        for op in case["patch"]:
            apply_patch(lines, op)
        path = tmp_path / "resources.ndjson"
        path.write_bytes(b"\n".join(orjson.dumps(lines[k]) for k in sorted(lines, key=int)) + b"\n")
    else:
        for op in case["patch"]:
            apply_patch(bundle, op)
        path = tmp_path / "bundle.json"
        path.write_bytes(orjson.dumps(bundle))
    findings = fhir_rules([path], case.get("version", "R4"))
    expect = dict(case["expect"])
    assert_found(findings, expect)
    assert all(Path(f.file) == path for f in findings if f.rule_id == expect["rule"])
