"""The validation of what a partitioned `to-sdtm` wrote (sdtm/partitioned.py), one range of subjects at a time.

The same findings as validate/written.py gives for the whole Study (and `validate PATH` gives on the folder),
without holding the big datasets:

- the SDTM rules run over the partitions (validate/partitioned.py), on each format's view of them
  (validate/written_views.py, partition by partition; a format whose views are the Study's own rows shares one
  run with the others, its findings moved to its files);
- per file, what needs the file: XPT headers (read) and the XPT value rules over each partition's rows, placed
  at whole rows; Dataset-JSON metadata (read) with the first rows as the writer wrote them and the record count;
- define.xml checked against the datasets' proxies (every distinct value and value shape: sdtm/spill.py).

A file whose reader could see something a view cannot emulate (non-ASCII text in XPT, an infinity, ...) makes its
format folder read back as `validate PATH` reads it (correct, but that folder then costs a whole read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop.errors import MscInteropError
from msc_interop.inputs.kinds import RECORDS_DEFINITIONS, own_output
from msc_interop.partition import StudyPartition
from msc_interop.sdtm.datasetjson import rows_as_read
from msc_interop.sdtm.formats import study_meta_from_data
from msc_interop.sdtm.partitioned import PartitionedStudy
from msc_interop.sdtm.text_encoding import read_xport, reading
from msc_interop.study import Study, StudyMeta
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.engine import Options, _classify, _parse_define, _standard, _validate_path, validate_paths
from msc_interop.validate.folder_partitions import FolderPartitions
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.partitioned import validate_partitions
from msc_interop.validate.registry import list_rules, run
from msc_interop.validate.report import Report
from msc_interop.validate.rules import DefineContext, JsonFile, XptFile
from msc_interop.validate.rules.encoding import decode_findings
from msc_interop.validate.written import (
    _SCHEMA_ROWS,
    _file,
    _HeadRows,
    _json_header,
    _moved,
    _Plan,
    _plans,
    _studyid_columns,
    _studyid_finding,
    view_of,
)
from msc_interop.validate.written_views import csv_view, json_rows_checked, json_view, xpt_view

View = Callable[[Study, str], pd.DataFrame | None]
_VIEWS: dict[str, View] = {"xpt": xpt_view, "json": json_view, "ndjson": json_view, "csv": csv_view}


class _Unviewable(Exception):
    """A partition's rows cannot be emulated as this format's reader gives them: read the folder back."""


def validate_written_partitions(ps: PartitionedStudy, outdir: Path, written: Sequence[Path]) -> Report:
    """What `validate_paths([outdir])` finds in a partitioned to-sdtm output (see the module docstring)."""
    outdir = Path(outdir)
    root = _classify(outdir) if outdir.is_dir() else None
    if root is None or own_output(outdir) is not None or any((outdir / n).is_file() for n in RECORDS_DEFINITIONS) \
            or root.groups or root.fhir or root.define is not None:
        return validate_paths([outdir])
    options = Options()
    plans = _plans(outdir, written)
    runs = _SdtmRuns(ps)
    findings: list[Finding] = []
    for sub in (p for p in sorted(outdir.iterdir()) if p.is_dir() and not p.name.startswith(".")):
        plan = plans.get(sub.name)
        found = None
        if plan is not None and not set(plan.files) <= set(runs.proxy.datasets):
            # XPT split by --max-file-size (LBCH, ...): read back as `validate` reads the pieces, as one LB,
            # by subject ranges when the files are big (as validate_written_sdtm does for a whole run's)
            found = _validate_path(sub, None, 1, None, replace(options, sdtm_partitions=FolderPartitions()))
        elif plan is not None and plan.matches(_classify(sub)):
            try:
                found = _folder(ps, plan, options, runs)
            except _Unviewable:
                found = None
        if found is None:
            found = _validate_path(sub, None, 1, None, options)
        if len(found) == 1 and found[0].rule_id == "MSC-IO-002":
            continue
        findings += found
    return Report(findings, sources=[str(outdir)])


def _folder(ps: PartitionedStudy, plan: _Plan, options: Options, runs: _SdtmRuns) -> list[Finding] | None:
    findings: list[Finding] = []
    proxy = runs.proxy
    tree = _parse_define(plan.define, findings) if plan.define is not None else None
    frames: dict[str, pd.DataFrame] = {}
    headers: dict[str, dict[str, Any]] = {}
    own_rows = True  # every view is the Study's own rows: the SDTM run is shared with the other formats
    encodings: dict[tuple[str, str], str] = {}  # the codec of each file read back (MSC-DEF-006)
    for name, path in sorted(plan.files.items(), key=lambda kv: kv[1]):
        if name in ps.spilled:
            own_rows &= _spilled_file(ps, name, plan.fmt, path, findings, headers, options)
            frames[name] = proxy[name]
            continue
        view = _file(view_of(proxy, plan.fmt, name), plan.fmt, name, path, findings, headers, options, encodings)
        if view is None:
            return None
        own_rows &= view is proxy[name]
        frames[name] = view
    files = {name: str(plan.files[name]) for name in frames}
    view_study = Study(StudyMeta(studyid=""), {}, require_identifiers=False)
    view_study.datasets = dict(sorted(frames.items()))
    try:
        study_meta_from_data(_studyid_columns(frames))
    except MscInteropError:  # as written.py: more than one STUDYID is a finding
        findings.append(_studyid_finding(frames, {k: plan.files[k] for k in frames}))
    standard, conflicts = _standard(options.sdtmig, tree, view_study, options.ct)
    source = str(plan.define if plan.define is not None else plan.folder)
    findings += runs.sdtm(None if own_rows else plan.fmt, standard, tuple(conflicts), files, source)
    if tree is not None and plan.define is not None:
        ctx = DefineContext(plan.define, tree, view_study.datasets, files, plan.fmt, headers, document_level=True,
                            folder_datasets=frozenset(plan.files), column_cache=ColumnCache(view_study.datasets),
                            encodings={name: codec for (_, name), codec in encodings.items()})
        findings += run(Scope.DEFINE, ctx, file=str(plan.define))
    return findings


class _SdtmRuns:
    """The SDTM rules over the partitions, once per distinct view and standard (findings moved between the
    formats that share a run, as written.py does)."""

    def __init__(self, ps: PartitionedStudy):
        self.ps = ps
        self.proxy = ps.proxy_study()
        self.done: list[tuple[Any, tuple[str, ...], str | None, dict[str, str], str, list[Finding]]] = []

    def sdtm(self, fmt: str | None, standard: Any, conflicts: tuple[str, ...], files: dict[str, str],
             source: str) -> list[Finding]:
        for std, conf, view, done_files, done_source, found in self.done:
            if std == standard and conf == conflicts and view == fmt and done_files.keys() == files.keys():
                where = {done_files[k]: files[k] for k in files} | {done_source: source}
                return [_moved(f, where) for f in found]
        partitions = (lambda: _viewed(self.ps, fmt)) if fmt else self.ps.partitions_of
        found = validate_partitions(partitions, source=source, files=files, whole_study=True, standard=standard,
                                    standard_conflicts=conflicts).findings
        self.done.append((standard, conflicts, fmt, files, source, found))
        return found


def _viewed(ps: PartitionedStudy, fmt: str) -> Iterator[StudyPartition]:
    """The partitions as the format's reader gives each dataset back."""
    view = _VIEWS[fmt]
    for part in ps.partitions_of():
        datasets = {}
        for name in part.study.names:
            got = view(part.study, name)
            if got is None:
                raise _Unviewable(f"{fmt}: {name}")
            datasets[name] = got
        study = Study(part.study.meta, {}, require_identifiers=False)
        study.datasets = datasets
        yield StudyPartition(study, part.rows, part.index)


def _spilled_file(ps: PartitionedStudy, name: str, fmt: str, path: Path, findings: list[Finding],
                  headers: dict[str, dict[str, Any]], options: Options) -> bool:
    """The file-level findings of a streamed dataset's file, partition by partition; whether every partition's
    view is its own rows. _Unviewable when a partition cannot be viewed (the folder is read back)."""
    own = True
    meta = None
    if fmt == "xpt":
        with reading(options.encoding) as log:
            _, meta = read_xport(path, metadataonly=True)
        if decode_findings(log):
            raise _Unviewable(f"{path}: labels not in UTF-8")
    first_rows: list[pd.DataFrame] = []
    header = _json_header(path, fmt == "ndjson") if fmt in ("json", "ndjson") else None
    if fmt in ("json", "ndjson") and (header is None or header.get("name") != name
                                      or header.get("records") != len(ps.spilled[name])):
        raise _Unviewable(f"{path}: metadata not as written")
    xpt_found: list[Finding] = []
    for k, part in enumerate(_parts_of(ps, name)):
        view = _VIEWS[fmt](part.study, name)
        if view is None:
            raise _Unviewable(f"{path}: {name}")
        own &= view is part.study[name]
        offset = int(part.rows[name][0]) if len(part.rows[name]) else 0
        if fmt == "xpt" and meta is not None:
            order = list(meta.column_names or [])
            data = view if list(view.columns) == order else view[order]
            xpt = XptFile(path, meta.table_name or "", meta.file_label or "",
                          dict(meta.column_names_to_labels or {}), data)
            found = run(Scope.XPT, xpt, file=str(path), dataset=name)
            xpt_found += [replace(f, row=f.row + offset) if f.row is not None else f
                          for f in found if f.row is not None or k == 0]
        elif header is not None:
            if not json_rows_checked(view, header.get("columns") or []):
                raise _Unviewable(f"{path}: row types")
            if sum(map(len, first_rows)) < _SCHEMA_ROWS:
                first_rows.append(view.iloc[:_SCHEMA_ROWS])
    if xpt_found:  # as one run over the whole rows gives them: rule by rule, variable by variable, row by row
        order = {r.id: i for i, r in enumerate(list_rules())}
        columns = list(meta.column_names or []) if meta is not None else []
        xpt_found.sort(key=lambda f: (order.get(f.rule_id, len(order)), f.row is not None,
                                      columns.index(f.variable) if f.variable in columns else -1, f.row or 0))
        findings += xpt_found
    if header is not None:
        head = pd.concat(first_rows, ignore_index=True) if first_rows else ps.spilled[name].proxy.iloc[:0]
        rows = _HeadRows(rows_as_read(head, header["columns"], _SCHEMA_ROWS), len(ps.spilled[name]))
        parsed = JsonFile(path, fmt == "ndjson", header, rows, row_lines=fmt == "ndjson")
        findings += run(Scope.DATASETJSON, parsed, file=str(path), dataset=parsed.dataset,
                        rules=[r for r in list_rules() if r.id != "MSC-DJSON-003"])
        headers[name] = header
    return own


def _parts_of(ps: PartitionedStudy, name: str) -> Iterator[StudyPartition]:
    """The partitions that hold rows of dataset `name` (only it loaded from the scratch files)."""
    ds = ps.spilled[name]
    for i in sorted(ds.ranges):
        a, b = ds.ranges[i]
        frame = ds.partition(i)
        study = Study(ps.meta, {}, require_identifiers=False)
        study.datasets = {name: frame}
        yield StudyPartition(study, {name: pd.RangeIndex(a, b).to_numpy()}, i)
