"""from-fhir's --engine: what each engine reads (Dask: FHIR NDJSON cut by subject, nothing else), and where the
partitioned read's steps run (engine/tasks.py: this process, or a Dask cluster started or reached for the command).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from msc_interop.errors import InputError
from msc_interop.inputs.kinds import fhir_files


def fhir_engine(paths: Sequence[Path], engine: str, scheduler: str | None, workers: int | None,
                 partition_subjects: int | str) -> int | str:
    """from-fhir's --partition-subjects as the engine takes it (dask: "auto" is "on"); InputError for what the
    engine cannot do: Dask reads NDJSON cut by subject, nothing else."""
    if engine == "local":
        if scheduler is not None or workers is not None:
            raise InputError("--scheduler and --workers go with --engine dask")
        return partition_subjects
    if engine != "dask":
        raise InputError(f"engine {engine!r} is not known; use local or dask")
    if partition_subjects in (0, "off"):
        raise InputError("--engine dask reads subject partitions on the workers: it does not go with "
                         "--partition-subjects off (use --engine local to read whole)")
    files, _ = fhir_files(paths)
    other = next((f for f in files if f.suffix.lower() != ".ndjson"), None)
    if not files:
        raise InputError(f"--engine dask: no FHIR NDJSON files in {', '.join(map(str, paths))}")
    if other is not None:
        raise InputError(f"--engine dask reads FHIR NDJSON only (.ndjson files, one resource a line, as a Bulk Data "
                         f"export or `to-fhir --ndjson --bundle none` writes): {other} is not; give the .ndjson "
                         "files alone, or use --engine local for Bundles and single resources")
    return "on" if partition_subjects == "auto" else partition_subjects


@contextlib.contextmanager
def engine_tasks(engine: str, scheduler: str | None, workers: int | None,
                 progress: Callable[[int, int], None] | None) -> Iterator[Any]:
    """Where from-fhir's partitioned steps run (engine/tasks.py): this process, or a Dask cluster for the block."""
    from msc_interop.engine.tasks import Here

    if engine != "dask":
        yield Here()
        return
    from msc_interop.engine.cluster import Cluster
    from msc_interop.engine.tasks import OnDask

    with Cluster(scheduler, workers) as cluster:
        yield OnDask(cluster, progress)
