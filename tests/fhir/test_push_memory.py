"""push streams its input (issue 16): its peak memory does not grow with the number of resources.

Measured with tracemalloc in this process (the server is another process): the peak of a push of a ~4,600-
resource study against the peak of a ~600-resource one, after a warm-up push (imports, mapping caches, the
first numpy calls). What may grow is 16-byte keys and hashes per resource (keyset.py): measured 4.9 MB for
647 resources, 5.8 MB for 5,342; push holding the resources themselves (before it streamed) measured 7.4 and
48.8 MB. An absolute bound, not a ratio: a ratio of two peaks flaked under a loaded machine's noise.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from click.testing import CliRunner

from msc_interop.cli import main
from msc_interop.server.push import PushOptions, push
from servers.fhir_servers import sekmet_server

GROWTH_LIMIT = 5 * 2 ** 20


def _fhir(tmp_path: Path, subjects: int) -> Path:
    """to-fhir NDJSON of a synthetic study (140 Observations a subject: labs, vital signs, ECG)."""
    records, out = tmp_path / f"rec-{subjects}", tmp_path / f"fhir-{subjects}"
    for args in (["synth", "--subjects", str(subjects), "-o", str(records)],
                 ["to-fhir", str(records), "-o", str(out), "--bundle", "none", "--ndjson", "--no-validate"]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
    return out


def _peak(base: str, fhir: Path, study: str, state: Path) -> tuple[int, int]:
    """(bytes of the push's peak above what was allocated before it, resources created)."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    report = push(fhir, PushOptions(server=base, state_dir=state, study=study))
    assert report.complete, report.lines()
    return tracemalloc.get_traced_memory()[1] - before, report.total("created")


def test_push_peak_memory_does_not_grow_with_the_input(tmp_path: Path) -> None:
    small, large = _fhir(tmp_path, 4), _fhir(tmp_path, 33)
    with sekmet_server(tmp_path) as base:
        tracemalloc.start()
        try:
            _peak(base, small, "MEM-WARMUP", tmp_path)
            small_peak, small_n = _peak(base, small, "MEM-SMALL", tmp_path)
            large_peak, large_n = _peak(base, large, "MEM-LARGE", tmp_path)
        finally:
            tracemalloc.stop()
    print(f"push peaks: {small_n} resources {small_peak / 2 ** 20:.1f} MB, {large_n} resources "
          f"{large_peak / 2 ** 20:.1f} MB")
    assert large_n - small_n > 4000  # the sizes are what the bound was reasoned for
    assert large_peak - small_peak < GROWTH_LIMIT, (small_peak, large_peak)
