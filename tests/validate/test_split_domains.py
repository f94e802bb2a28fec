"""Split datasets (SDTMIG 3.2 section 4.1.7): LBCH + LBHE are one LB domain, SUPPLBCH's parents are in LBCH.

The package is made here from the bundled study: LB split in two by LBCAT (LBCH = CHEMISTRY, LBHE = the rest),
a SUPPLB with one qualifier per LB record split likewise (SUPPLBCH, SUPPLBHE), everything else as to-sdtm
writes it. The CDISC pilot in ../shared has no split domain, hence this synthetic one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from msc_interop.sdtm.xpt import write_xpt
from msc_interop.study import Study
from msc_interop.validate import validate_paths


def _supp(lb: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"STUDYID": lb["STUDYID"], "RDOMAIN": "LB", "USUBJID": lb["USUBJID"], "IDVAR": "LBSEQ",
                         "IDVARVAL": lb["LBSEQ"].astype(int).astype(str), "QNAM": "LBCLSIG",
                         "QLABEL": "Clinically Significant", "QVAL": "N", "QORIG": "Assigned", "QEVAL": ""})


def split_package(study: Study, folder: Path, edit=None) -> Path:
    """XPT files of the study with LB and its SUPPLB split by LBCAT; `edit(datasets)` may change them first."""
    folder.mkdir(parents=True, exist_ok=True)
    datasets = {name: study[name].copy() for name in study.names if name != "LB"}
    lb = study["LB"]
    chem = lb["LBCAT"].eq("CHEMISTRY")
    datasets["LBCH"] = lb[chem].reset_index(drop=True)
    datasets["LBHE"] = lb[~chem].reset_index(drop=True)
    datasets["SUPPLBCH"] = _supp(datasets["LBCH"])
    datasets["SUPPLBHE"] = _supp(datasets["LBHE"])
    if edit is not None:
        edit(datasets)
    for name, df in datasets.items():
        write_xpt(df, name, folder / f"{name.lower()}.xpt")
    return folder


def _ids(findings) -> Counter:
    return Counter((f.rule_id, f.dataset_or_resource) for f in findings)


def test_split_lb_is_checked_as_lb(example_study: Study, tmp_path: Path) -> None:
    findings = validate_paths([split_package(example_study, tmp_path / "split")]).findings
    ids = _ids(findings)
    assert not [k for k in ids if k[0] in ("MSC-SDTM-022", "MSC-SDTM-010", "MSC-SDTM-020", "MSC-SDTM-023")], ids
    errors = [f for f in findings if f.severity == "error"]
    assert errors == [], errors[:5]


def test_split_dataset_gets_the_domain_variable_rules(example_study: Study, tmp_path: Path) -> None:
    folder = split_package(example_study, tmp_path / "split",
                           lambda d: d.__setitem__("LBHE", d["LBHE"].drop(columns=["LBTESTCD"])))
    [f] = [f for f in validate_paths([folder]).findings if f.rule_id == "MSC-SDTM-001"]
    assert (f.dataset_or_resource, f.variable_or_path) == ("LBHE", "LBTESTCD")
    assert "msc-interop's LB metadata" in f.message


def test_supp_parent_is_looked_up_in_its_split_dataset(example_study: Study, tmp_path: Path) -> None:
    def point_into_the_other_split(d: dict[str, pd.DataFrame]) -> None:
        other = d["LBHE"].iloc[0]
        supp = d["SUPPLBCH"]
        supp.loc[0, "USUBJID"] = other["USUBJID"]
        supp.loc[0, "IDVARVAL"] = str(int(other["LBSEQ"]))

    folder = split_package(example_study, tmp_path / "split", point_into_the_other_split)
    [f] = [f for f in validate_paths([folder]).findings if f.rule_id == "MSC-SDTM-022"]
    assert (f.dataset_or_resource, f.row_or_entry, f.variable_or_path) == ("SUPPLBCH", 1, "IDVARVAL")
    assert "which is not in LB" in f.message


def test_seq_is_unique_across_the_split_datasets(example_study: Study, tmp_path: Path) -> None:
    def same_seq(d: dict[str, pd.DataFrame]) -> None:
        ch, he = d["LBCH"], d["LBHE"]
        subject = ch.loc[0, "USUBJID"]
        row = he.index[he["USUBJID"].eq(subject)][0]
        d["SUPPLBHE"] = d["SUPPLBHE"][~(d["SUPPLBHE"]["USUBJID"].eq(subject)
                                        & d["SUPPLBHE"]["IDVARVAL"].eq(str(int(he.loc[row, "LBSEQ"]))))]
        he.loc[row, "LBSEQ"] = ch.loc[0, "LBSEQ"]

    folder = split_package(example_study, tmp_path / "split", same_seq)
    found = [f for f in validate_paths([folder]).findings if f.rule_id == "MSC-SDTM-010"]
    assert sorted(f.dataset_or_resource for f in found) == ["LBCH", "LBHE"]
    assert all("across the LB datasets LBCH, LBHE" in f.message and f.severity == "error" for f in found)


@pytest.mark.parametrize("name", ["DMX", "TAXX"])
def test_special_purpose_and_trial_design_are_not_split(example_study: Study, name: str) -> None:
    from msc_interop.validate.standard import domain_of

    df = pd.DataFrame({"DOMAIN": [name[:2]]})
    assert domain_of(name, df) == name
    assert domain_of("LBCH", pd.DataFrame({"DOMAIN": ["LB"]})) == "LB"
    assert domain_of("QSCG", pd.DataFrame({"DOMAIN": ["QS"]})) == "QS"
    assert domain_of("RELREC", pd.DataFrame({"DOMAIN": ["RE"]})) == "RELREC"
