"""MSC-FHIR-013 on the answer of a _summary=count search (a searchset with a total and no entries): a count answer,
not a page whose other matches are missing (fhir/paging.py count_only, as from-fhir detects it)."""

from __future__ import annotations

import json
from pathlib import Path

from msc_interop.validate.fhir_rules import fhir_rules


def test_a_count_answer_is_said_to_be_one(tmp_path: Path) -> None:
    path = tmp_path / "count.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "id": "cnt", "type": "searchset", "total": 57, "link": [
        {"relation": "self", "url": "https://hosp.example/fhir/Observation?code=718-7&_summary=count"}]}))
    found = [f for f in fhir_rules([path], "R4") if f.rule_id == "MSC-FHIR-013"]
    assert len(found) == 1
    assert found[0].message == ("count.json: a _summary=count answer: 57 matches, no resources; search without "
                                "_summary to read them (a count answer, not data: no page of it is missing) "
                                "(FHIR paging)")
    assert "were not given" not in found[0].message
