"""Subject partitions of a study: every subject-level row in exactly one partition, in the whole's order."""

import numpy as np
import pandas as pd
import pytest

from msc_interop.partition import partition_study, subject_ranges
from msc_interop.study import Study, StudyMeta


def _study() -> Study:
    dm = pd.DataFrame({"STUDYID": "S", "DOMAIN": "DM", "USUBJID": ["S-1", "S-2", "S-3"], "SUBJID": ["1", "2", "3"]})
    lb = pd.DataFrame({"STUDYID": "S", "DOMAIN": "LB", "USUBJID": ["S-1", "S-1", "S-3", "S-2"],
                       "LBSEQ": [1, 2, 1, 1], "LBTESTCD": ["HGB", "WBC", "HGB", "HGB"]})
    ts = pd.DataFrame({"STUDYID": "S", "DOMAIN": "TS", "TSSEQ": [1], "TSPARMCD": ["TITLE"], "TSVAL": ["t"]})
    return Study(StudyMeta("S"), {"DM": dm, "LB": lb, "TS": ts})


def test_each_subject_row_once_and_study_level_whole():
    parts = list(partition_study(_study(), 2))
    assert [p.index for p in parts] == [0, 1]
    # S-1, S-2 in the first; S-3 in the second (sorted USUBJID, 2 per partition)
    assert parts[0].study["LB"]["USUBJID"].tolist() == ["S-1", "S-1", "S-2"]
    assert parts[0].rows["LB"].tolist() == [0, 1, 3]  # where the rows sit in the whole LB
    assert parts[1].study["LB"]["USUBJID"].tolist() == ["S-3"]
    assert parts[1].rows["LB"].tolist() == [2]
    for p in parts:  # TS has no USUBJID: whole in every partition
        assert len(p.study["TS"]) == 1 and p.rows["TS"].tolist() == [0]
    rows = np.sort(np.concatenate([p.rows["LB"] for p in parts]))
    assert rows.tolist() == [0, 1, 2, 3]


def test_empty_subject_goes_first_and_bad_size_refused():
    assert [g.tolist() for g in subject_ranges(pd.Series(["b", "", "a", "b"]), 1)] == [["a"], ["b"]]
    with pytest.raises(ValueError):
        subject_ranges(pd.Series(["a"]), 0)
