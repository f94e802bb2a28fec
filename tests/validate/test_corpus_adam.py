"""The ADaM part of the seeded-defect corpus (tests/data/defects/corpus.yaml, `adam`): each case breaks one thing
in the to-adam output of the bundled study, with msc-interop's own ADaM reader and writer, and validate must name
the rule, the file, the dataset, the variable and (for a record) the row and subject. The clean output has no
findings at all: the define.xml checks and the ADaM rules make no false finding on what to-adam writes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import EXAMPLE
from msc_interop.adam import files
from msc_interop.api import to_adam
from msc_interop.validate import validate_paths

from .test_corpus import CORPUS, _ids, assert_found

PINNED = "2026-01-01T00:00:00"


@pytest.fixture(scope="module")
def adam_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adam-corpus")
    to_adam([EXAMPLE], out, created=PINNED, validate=False)
    return out


def test_clean_adam_output_has_no_findings(adam_output: Path) -> None:
    report = validate_paths([adam_output])
    assert report.findings == [], report.findings[:5]


def _edit(folder: Path, case: dict[str, Any]) -> None:
    changed: dict[str, Any] = {}

    def frame(ds: str) -> Any:
        if ds not in changed:
            changed[ds] = files.read_dataset(folder / f"{ds.lower()}.{case['folder']}")[1]
        return changed[ds]

    for op in case.get("set", []):
        df = frame(op["dataset"])
        df.loc[op["row"] - 1, op["variable"]] = np.nan if op["value"] is None else op["value"]
    if "replace" in case:
        op = case["replace"]
        df = frame(op["dataset"])
        df.loc[df[op["variable"]] == op["old"], op["variable"]] = op["new"]
    if "drop" in case:
        op = case["drop"]
        changed[op["dataset"]] = frame(op["dataset"]).drop(columns=[op["variable"]])
    for ds, df in changed.items():
        files.write_dataset(ds, df, folder / f"{ds.lower()}.{case['folder']}", case["folder"],
                            studyid=str(df["STUDYID"].iloc[0]), created=PINNED)


@pytest.mark.parametrize("case", CORPUS["adam"], ids=_ids(CORPUS["adam"]))
def test_adam_defect_is_found_at_its_place(adam_output: Path, tmp_path: Path, case: dict[str, Any]) -> None:
    folder = tmp_path / case["folder"]
    shutil.copytree(adam_output / case["folder"], folder)
    _edit(folder, case)
    assert_found(validate_paths([folder]).findings, case["expect"])
