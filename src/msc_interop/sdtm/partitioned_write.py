"""Write a partitioned study (sdtm/partitioned.py): held datasets as usual, spilled ones streamed to each format's
files, XPT over --max-file-size split as a whole run splits it (sdtm/split_stream.py), define.xml from the proxies.

Apart from partitioned.py so that the split (which reads a PartitionedStudy) is not imported by the module that
defines one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from msc_interop.atomic import atomic_path
from msc_interop.sdtm import csvio, datasetjson, xpt
from msc_interop.sdtm.formats import dataset_file_name, get_format, text_encoding_of, writer_options
from msc_interop.sdtm.partitioned import PartitionedStudy
from msc_interop.sdtm.spill import SpilledDataset
from msc_interop.study import StudyMeta


def write_partitioned(ps: PartitionedStudy, outdir: Path, formats: Sequence[str], define: bool, stamp: str, *,
                      xpt_encoding: str | None = None, max_file_size: int | None = None,
                      rows: dict[str, int] | None = None, tasks: Any = None) -> list[Path]:
    """write_sdtm for a partitioned study: held datasets as usual, spilled ones streamed; define.xml from the
    proxies. An XPT dataset over `max_file_size` (default 5 GB) is split by --CAT as a whole run splits it
    (sdtm/split_stream.py; the records of each piece added to `rows`). Every file appears only when all are
    written (atomic renames at the end). `tasks` (engine/tasks.py OnDask): the spilled datasets' files written
    on Dask workers, each file one task (the same bytes: the same writer, from the same spill)."""
    from msc_interop.sdtm.define import write_define
    from msc_interop.sdtm.split import DEFAULT_MAX_FILE_SIZE, remove_stale_pieces
    from msc_interop.sdtm.split_stream import plan, write_split_xpt
    from msc_interop.stale_outputs import sdtm_not_written_here

    proxy = ps.proxy_study()
    stream = None
    if "xpt" in formats:  # decided before anything is written, its notes before define.xml's (as write_sdtm)
        stream = plan(ps, max_file_size or DEFAULT_MAX_FILE_SIZE,
                      lambda name: text_encoding_of(proxy, name, xpt_encoding))
        ps.notes += [n for n in stream.split.notes if n not in ps.notes]
        if rows is not None:
            rows.update(stream.rows)
    written: list[Path] = []
    jobs: list[tuple] = []
    with contextlib.ExitStack() as stack:
        def atomic(target: Path) -> Path:
            return stack.enter_context(atomic_path(target))

        for fmt in dict.fromkeys(formats):
            f = get_format(fmt)
            folder = outdir / fmt
            for name in proxy.names:
                enc = text_encoding_of(proxy, name, xpt_encoding)
                if fmt == "xpt" and stream is not None and stream.files(name) != [name]:
                    written += write_split_xpt(ps, stream, name, folder, atomic, stamp, enc)
                    continue
                target = folder / dataset_file_name(name, fmt)
                tmp = atomic(target)
                options = writer_options(fmt, enc, define and fmt in ("xpt", "json"))
                if name in ps.spilled and tasks is not None:
                    jobs.append((ps.spilled[name], fmt, tmp, proxy.meta, stamp, options))
                elif name in ps.spilled:
                    _write_spilled(ps.spilled[name], fmt, tmp, proxy.meta, stamp, options)
                else:
                    f.writer(proxy[name], name, tmp, proxy.meta, stamp, **options)
                written.append(target)
            if define and fmt in ("xpt", "json"):
                tmp_define = atomic(folder / "define.xml")
                said = write_define(proxy, tmp_define, dataset_format=fmt, created=stamp,
                                    split=stream.split if fmt == "xpt" and stream is not None else None)
                ps.notes += [n for n in said if n not in ps.notes]
                written.append(folder / "define.xml")
        if jobs:  # the biggest first, so that no worker is left with a big one at the end
            tasks.map(_write_spilled, sorted(jobs, key=lambda job: -len(job[0])))
    ps.notes += remove_stale_pieces(written)  # once every file is in place
    ps.notes += sdtm_not_written_here(outdir, dict.fromkeys(formats), written)
    return written


def _write_spilled(ds: SpilledDataset, fmt: str, path: Path, meta: StudyMeta, stamp: str,
                   options: dict[str, str]) -> None:
    """`options`: the format writer's own (formats.writer_options)."""
    shape = ds.proxy
    if fmt == "xpt":
        xpt.write_frames(shape, ds.chunks, ds.name, path, created=stamp, **options)
    elif fmt in ("json", "ndjson"):
        datasetjson.write_frames(shape, ds.chunks, len(ds), ds.name, path, ndjson=fmt == "ndjson",
                                 study_meta=meta, created=stamp, **options)
    else:
        csvio.write_frames(shape, ds.chunks, ds.name, path)
