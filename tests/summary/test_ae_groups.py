"""AE groupings (mappings/ae_groups.yaml, summary --ae-groups FILE): the shipped file's convention, an override
that changes the related count, and clear errors for a file that does not fit the schema."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from msc_interop.errors import MscInteropError
from msc_interop.mappings import load
from msc_interop.summary import compute_tables
from msc_interop.summary.ae_groups import load_groups

from .conftest import cell
from .test_example import ARM


def test_shipped_convention():
    g = load_groups()
    rel = g.relation(pd.Series(["REMOTE", "possible", "PROBABLE", "NONE", "Y", "N", "", "SOMETIMES"]))
    assert rel.tolist() == ["not related", "related", "related", "not related", "related", "not related",
                            "related", "unclassified"]


def test_override_file_changes_the_related_row(example_study, tmp_path):
    data = copy.deepcopy(load("ae_groups"))  # the loaded mapping is shared: never edit it in place
    data["relationship"]["related"].remove("RELATED")
    data["relationship"]["not_related"].append("RELATED")  # a (strange) sponsor convention: RELATED is not related
    path = tmp_path / "groups.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    t = compute_tables(example_study, ae_groups=path)
    assert cell(t["ae_overview"], {"Category": "Related TEAE (see note)"}, f"{ARM} (N=9) n (%)") == "0"
    default = compute_tables(example_study)
    assert cell(default["ae_overview"], {"Category": "Related TEAE (see note)"}, f"{ARM} (N=9) n (%)") == "1 (11.1%)"


def test_bad_groups_files_are_refused_with_the_reason(tmp_path):
    data = load("ae_groups")
    both = dict(data, relationship=dict(data["relationship"], not_related=[*data["relationship"]["not_related"],
                                                                           "POSSIBLE"]))
    p = tmp_path / "both.yaml"
    p.write_text(yaml.safe_dump(both), encoding="utf-8")
    with pytest.raises(MscInteropError, match="POSSIBLE are both related and not related"):
        load_groups(p)
    p.write_text("relationship: {related: [RELATED]}\n", encoding="utf-8")
    with pytest.raises(MscInteropError, match=r"does not match mappings/schema/ae_groups.schema.json"):
        load_groups(p)
    p.write_text("relationship: [unclosed\n", encoding="utf-8")
    with pytest.raises(MscInteropError, match="cannot be read as YAML"):
        load_groups(p)
