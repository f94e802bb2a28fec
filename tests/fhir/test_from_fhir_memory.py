"""from-fhir's memory per Observation (issue 16's pull, issue 18): what a read holds grows little with the input.

Measured with tracemalloc: the peak of read_fhir on a ~4,600-Observation to-fhir folder against the peak on a
~560-Observation one (its first subjects' lines), after a warm-up read (imports, mapping caches). The growth per
extra Observation (labs, vital signs, ECG, with the Encounters, Procedures ... of their subjects) is bounded.
Measured before the read held its resources compactly (equal JSON values shared, fhir/compact.py; compact flat
records, ECG Observations as compact records; orjson memo keys copied to their size; each dataset's first frame
not held beside its final one): 4,753 bytes per extra Observation; after: 1,461. An absolute bound per
Observation, not a ratio of timings: tracemalloc counts the same allocations on a loaded machine.
"""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import orjson
from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.fhir import read_fhir

GROWTH_PER_OBSERVATION = 2000  # bytes of peak per extra Observation (measured 1,461; 4,753 before)


def _fhir(tmp_path: Path, subjects: int) -> Path:
    """to-fhir NDJSON of a synthetic study (140 Observations a subject: labs, vital signs, ECG)."""
    records, out = tmp_path / "records", tmp_path / "fhir"
    for args in (["synth", "--subjects", str(subjects), "-o", str(records)],
                 ["to-fhir", str(records), "-o", str(out), "--bundle", "none", "--ndjson", "--no-validate"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
    return out


def _first_subjects(fhir: Path, keep: int, out: Path) -> Path:
    """The NDJSON lines of `fhir` that name none but its first `keep` subjects (one to-fhir run for both sizes)."""
    usubjids = [orjson.loads(line)["identifier"][0]["value"] for line in (fhir / "Patient.ndjson").open("rb")]
    other = re.compile(b"|".join(re.escape(u.encode()) for u in usubjids[keep:]) + rb"(?![0-9])")
    out.mkdir()
    for f in fhir.glob("*.ndjson"):
        (out / f.name).write_bytes(b"".join(x for x in f.open("rb") if not other.search(x)))
    return out


def _peak(fhir: Path) -> tuple[int, int]:
    """(bytes of read_fhir's peak above what was allocated before it, Observations read)."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    study, report = read_fhir([fhir])
    peak = tracemalloc.get_traced_memory()[1] - before
    counts = {c["form"]: c for c in report.form_counts()}["Observation"]
    assert counts["read"] == counts["converted"] > 0, counts  # every Observation converted
    del study
    return peak, counts["read"]


def test_from_fhir_peak_memory_per_observation(tmp_path: Path) -> None:
    large = _fhir(tmp_path, 33)
    small = _first_subjects(large, 4, tmp_path / "small")
    tracemalloc.start()
    try:
        _peak(small)
        small_peak, small_n = _peak(small)
        large_peak, large_n = _peak(large)
    finally:
        tracemalloc.stop()
    per = (large_peak - small_peak) / (large_n - small_n)
    print(f"read_fhir peaks: {small_n} Observations {small_peak / 2 ** 20:.1f} MB, {large_n} Observations "
          f"{large_peak / 2 ** 20:.1f} MB: {per:.0f} bytes per extra Observation")
    assert large_n - small_n > 4000  # the sizes are what the bound was reasoned for
    assert per < GROWTH_PER_OBSERVATION, (small_peak, large_peak, small_n, large_n)
