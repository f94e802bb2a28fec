"""The SDTM rules over subject partitions (validate/partitioned.py) give validate_study's report exactly: every
finding (all fields: rule, severity, file, dataset, whole row, USUBJID, --SEQ, variable, value, message) in the
same order, for every case of the seeded-defect corpus, the bundled study, a synthetic study and the two CDISC
pilot packages, cut into partitions of 1 subject, 2 subjects and a third of the subjects."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from msc_interop import api
from msc_interop.inputs.load import load_study
from msc_interop.partition import partition_study
from msc_interop.study import Study
from msc_interop.validate import Finding, Scope, list_rules, registry, validate_study
from msc_interop.validate.model import Reach
from msc_interop.validate.partitioned import validate_partitions

from .conftest import mutate
from .extra_domains import with_extra_domains
from .test_corpus import CORPUS, _ids


def _subjects(study: Study) -> int:
    return len({s for df in study.datasets.values() if "USUBJID" in df.columns for s in df["USUBJID"] if s != ""})


def _sizes(study: Study) -> tuple[int, ...]:
    """1 subject per partition, 2, and a third of the subjects (about 3 partitions)."""
    return tuple(dict.fromkeys((1, 2, max(1, math.ceil(_subjects(study) / 3)))))


def _rows(findings: list[Finding]) -> list[tuple[Any, ...]]:
    return [tuple(f.as_dict().values()) for f in findings]


def assert_same(study: Study, sizes: tuple[int, ...], whole: list[Finding] | None = None) -> list[Finding]:
    whole = validate_study(study).findings if whole is None else whole
    for size in sizes:
        parts = validate_partitions(lambda s=size: partition_study(study, s)).findings
        assert _rows(parts) == _rows(whole), f"{size} subject(s) per partition"
    return whole


def test_every_sdtm_rule_says_what_it_reads() -> None:
    """A new SDTM rule must say whether it runs per partition (SUBJECTS) or once (STUDY)."""
    sdtm = [r.id for r in list_rules() if r.scope == Scope.SDTM and r.raised_by == "function"]
    assert len(sdtm) >= 60
    assert [r for r in sdtm if registry.reach_of(r) is None] == []
    once = {r for r in sdtm if registry.reach_of(r) == Reach.STUDY}
    # the rules about datasets and the study, not rows: missing variables, undescribed datasets, versions, the
    # variables a domain may hold
    assert once == {"MSC-SDTM-001", "MSC-SDTM-003", "MSC-SDTM-023", "MSC-SDTM-025", "MSC-SDTM-026",
                    "MSC-SDTM-039", "MSC-SDTM-040", "MSC-SDTM-041"}


def test_bundled_study(example_study: Study) -> None:
    whole = assert_same(example_study, _sizes(example_study))
    assert {f.rule_id for f in whole} == {"MSC-SDTM-040"}


# Each case is cut one of the three ways in turn (a partition run costs about what the whole run does on a study
# this small: all three for all 187 cases take ~13 min of CPU); MSC_PARTITIONS_ALL=1 runs every case every way.
ALL_SIZES = os.environ.get("MSC_PARTITIONS_ALL") == "1"


@pytest.mark.parametrize("i, case", list(enumerate(CORPUS["study"])), ids=_ids(CORPUS["study"]))
def test_corpus_case(example_study: Study, extra_study: Study, i: int, case: dict[str, Any]) -> None:
    base = extra_study if case.get("extra") else example_study
    broken = mutate(base, cells=case.get("set", ()), drop=case.get("drop"), copy_row=case.get("copy_row"))
    sizes = _sizes(broken)
    whole = assert_same(broken, sizes if ALL_SIZES else sizes[i % len(sizes):][:1])
    assert any(f.rule_id == case["expect"]["rule"] for f in whole), "the case's finding is in what was compared"


@pytest.fixture(scope="module")
def extra_study(example_study: Study) -> Study:
    return with_extra_domains(example_study)


def test_findings_across_partitions_in_one_place(example_study: Study) -> None:
    """A finding whose cause is spread over subjects (VISIT 'WEEK 4' of one subject's VISITNUM 4 held by every
    other subject as 'YEAR 1', MSC-SDTM-013) is decided over the whole study, not per partition; its row is the
    row of the whole LB."""
    lb = example_study["LB"]
    last = lb["USUBJID"].iloc[-1]
    at = (lb["USUBJID"] == last).to_numpy() & (lb["VISITNUM"] == lb["VISITNUM"].max()).to_numpy()
    row = int(np.flatnonzero(at)[0])
    broken = mutate(example_study, cells=[{"dataset": "LB", "row": row + 1, "variable": "VISIT", "value": "ODD"}])
    whole = assert_same(broken, (1,))
    assert [(f.rule_id, f.row_or_entry, f.usubjid) for f in whole if f.rule_id == "MSC-SDTM-013"] == \
        [("MSC-SDTM-013", row + 1, last)]


def _split_lb(study: Study, lbch_domain: str | None = None) -> Study:
    """LB split by LBCAT into LBCH and LBHE (SDTMIG 3.2 section 4.1.7), as test_split_domains.py writes it, with
    a --SEQ of the first subject's first LBHE record repeated from its LBCH (MSC-SDTM-010 across the split) and,
    if given, one LBCH record's DOMAIN changed: then LBCH is no longer part of LB over the whole study, though
    it still looks so in every partition but one."""
    datasets = {name: study[name].copy() for name in study.names if name != "LB"}
    lb = study["LB"]
    chem = lb["LBCAT"].eq("CHEMISTRY")
    datasets["LBCH"], datasets["LBHE"] = lb[chem].reset_index(drop=True), lb[~chem].reset_index(drop=True)
    first = datasets["LBHE"]["USUBJID"].iloc[0]
    datasets["LBHE"].loc[0, "LBSEQ"] = datasets["LBCH"].loc[datasets["LBCH"]["USUBJID"].eq(first), "LBSEQ"].iloc[0]
    if lbch_domain is not None:
        datasets["LBCH"].loc[len(datasets["LBCH"]) - 1, "DOMAIN"] = lbch_domain
    return Study(study.meta, datasets)


@pytest.mark.parametrize("lbch_domain", [None, "XX"])
def test_split_domain(example_study: Study, lbch_domain: str | None) -> None:
    study = _split_lb(example_study, lbch_domain)
    whole = assert_same(study, _sizes(study))
    split = [f for f in whole if f.rule_id == "MSC-SDTM-010"]
    # as one LB, the repeated --SEQ is a finding in both datasets; with LBCH not LB, LBHE alone is LB and has none
    assert [f.dataset_or_resource for f in split] == (["LBCH", "LBHE"] if lbch_domain is None else [])


def test_synthetic_study(tmp_path: Path) -> None:
    api.synth(tmp_path / "records", subjects=6, seed=7)  # 55 LB rows a subject (the benchmarks' shape)
    study, rejects = api.load_study(tmp_path / "records")
    assert len(rejects) == 0
    assert_same(study, _sizes(study))


@pytest.mark.parametrize("package, sizes", [("cdisc-pilot-original", (50, 102)),
                                            ("dataset-json/examples-v1.1/sdtm", (1, 6))])
def test_cdisc_pilot(shared_dir: Path, package: str, sizes: tuple[int, ...]) -> None:
    study, _ = load_study(shared_dir / "external" / package)
    whole = assert_same(study, sizes)
    assert len(whole) > 50


def test_a_rule_whose_checks_follow_the_rows_is_reported(example_study: Study,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A SUBJECTS rule that checks a dataset only where it has rows (AE: one subject's) would put findings out
    of order: it is a finding ("rule could not run"), never a different report."""
    def only_where_rows(ctx, meta):
        for ds, df in ctx.frames():
            if ds == "AE" and len(df):
                yield from ctx.at(meta, ds, np.zeros(len(df), dtype=bool), "DOMAIN")

    monkeypatch.setitem(registry._FUNCTIONS, "MSC-SDTM-020", only_where_rows)
    found = [f for f in validate_partitions(list(partition_study(example_study, 1))).findings
             if f.rule_id == "MSC-SDTM-020"]
    assert len(found) == 1 and found[0].message.startswith("rule could not run: over partitions:")


def test_partitions_are_read_twice_so_an_iterator_is_refused(example_study: Study) -> None:
    with pytest.raises(TypeError, match="one-shot iterator"):
        validate_partitions(partition_study(example_study, 3))


def test_a_partition_without_a_dataset_is_refused(example_study: Study) -> None:
    """Every partition holds every dataset (empty where its subjects have no rows): one that lacks a dataset, or
    holds it with other variables, would make every rule check other things there, so the run says which."""
    parts = list(partition_study(example_study, 3))
    del parts[1].study.datasets["EX"]
    with pytest.raises(ValueError, match=r"^partition 1 has no EX dataset but the first has"):
        validate_partitions(parts)
    parts = list(partition_study(example_study, 3))
    parts[2].study.datasets["EX"] = parts[2].study.datasets["EX"].drop(columns=["EXSTDY", "EXENDY"])
    with pytest.raises(ValueError, match=r"^partition 2's EX has the variables .*; the first's .*EXSTDY"):
        validate_partitions(parts)
