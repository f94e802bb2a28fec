"""to-fhir a subject partition at a time writes the Bundle and NDJSON files a whole run writes, byte for byte.

The oracle is the whole run (`partition_subjects=0`): bundle.json, every <Type>.ndjson and the reject report
must be identical, in R4 and R5, on the bundled study (SUPP--, DS, SV records carrying their row) and on a
synthetic study with seeded defects in its lab records.
"""

from __future__ import annotations

import filecmp
from collections import Counter
from pathlib import Path

import pytest

from msc_interop import api
from msc_interop.fhir.partitioned import _placed
from msc_interop.fhir.validate import Finding

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example_study"


def _same_files(a: Path, b: Path) -> list[str]:
    names_a = sorted(p.name for p in a.iterdir() if p.is_file())
    names_b = sorted(p.name for p in b.iterdir() if p.is_file())
    assert names_a == names_b
    return [n for n in names_a if not filecmp.cmp(a / n, b / n, shallow=False)]


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_example_partitioned_bundle_and_ndjson_identical(version, tmp_path):
    whole, _ = api.to_fhir(EXAMPLE, tmp_path / "w", fhir_version=version, ndjson=True, validate=False,
                           partition_subjects=0)
    parts, _ = api.to_fhir(EXAMPLE, tmp_path / "p", fhir_version=version, ndjson=True, validate=False,
                           partition_subjects=2)
    assert (whole.partitions, parts.partitions) == (0, 5)
    assert _same_files(tmp_path / "w", tmp_path / "p") == []
    assert parts.counts == whole.counts and parts.not_written == whole.not_written
    assert parts.warnings == whole.warnings
    assert not list((tmp_path / "p").glob(".msc-partitions.*"))


def test_synthetic_with_defects_identical_and_fast_validation_alike(tmp_path):
    records = tmp_path / "records"
    api.synth(records, subjects=40, seed=5)
    labs = records / "labs.csv"
    lines = labs.read_text(encoding="utf-8").splitlines()
    lines.insert(30, lines[3])  # an exact duplicate: rejected in both runs
    labs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole, wr = api.to_fhir(records, tmp_path / "w", ndjson=True, validate="fast", partition_subjects=0)
    parts, pr = api.to_fhir(records, tmp_path / "p", ndjson=True, validate="fast", partition_subjects=6)
    assert parts.partitions == 7
    assert _same_files(tmp_path / "w", tmp_path / "p") == []
    assert parts.findings == whole.findings and parts.counts == whole.counts
    assert [r.row for r in pr.rejects] == [r.row for r in wr.rejects] == [31]


def test_findings_placed_after_earlier_stages_of_their_type():
    """Observation #2 of stage 2 follows stage 1's 5 Observations: it is Observation #7 of the file."""
    counts = [Counter({"Patient": 3}), Counter({"Observation": 5}), Counter({"Observation": 4})]
    found = [[], [], [Finding("Observation.ndjson", 2, "Observation", "o", "bad")]]
    assert [f.position for f in _placed(found, counts)] == [7]


def test_labs_whose_names_differ_only_in_digits_each_an_organization(tmp_path):
    """The study stage is built from representative rows: two labs named "Central Lab 1" and "Central Lab 2"
    (one value shape) must still be two Organizations, as in a whole run."""
    import shutil

    records = tmp_path / "records"
    shutil.copytree(EXAMPLE, records)
    labs = records / "labs.csv"
    lines = labs.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    at, subject = header.index("lab_name"), header.index("subject_id")
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) == len(header):
            cells[at] = "Central Lab 1" if cells[subject] < "05" else "Central Lab 2"
        out.append(",".join(cells))
    labs.write_text("\n".join(out) + "\n", encoding="utf-8")
    whole, _ = api.to_fhir(records, tmp_path / "w", ndjson=True, validate=False, partition_subjects=0)
    parts, _ = api.to_fhir(records, tmp_path / "p", ndjson=True, validate=False, partition_subjects=2)
    assert whole.counts["Organization"] == parts.counts["Organization"] == 2
    assert _same_files(tmp_path / "w", tmp_path / "p") == []
