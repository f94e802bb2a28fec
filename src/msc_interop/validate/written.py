"""The validation of what `to-sdtm` just wrote, on the Study still in memory (issue 18, Build 1).

`validate PATH` reads every format folder of a to-sdtm output back and runs the SDTM rules once per format;
at a million LB rows that read-back was nearly half of `to-sdtm --format xpt`. Here the same findings come
from the Study that was written:

- the SDTM rules run once per distinct reader's view (validate/written_views.py: usually the Study's own
  datasets, the same for every format) and standard (define.xml beside XPT and Dataset-JSON states one; a CSV
  folder has none); the findings of another format are the same findings at that format's files;
- per file, only what needs the file: XPT: its header (member name, labels; a metadata-only read) for the
  XPT rules over the view; Dataset-JSON: its metadata (the top of the file) for the schema, record count and
  name rules, with the first rows as the writer writes them; MSC-DJSON-003 (row shapes and JSON types) is
  not run where written_views.json_rows_checked proves it cannot find anything; define.xml: parsed and
  checked against the views;
- a file whose reader could see something else (written_views) is read back as `validate PATH` reads it,
  with the findings only that read gives (text decoded as Windows-1252, ...); so is a format folder holding
  files this run did not write, and an output folder holding anything but the format folders.

Findings are the same as `validate_paths([outdir])` gives, in the same order (tests/validate/test_written.py
compares both on the bundled study, the CDISC examples and pilot, and a study with seeded defects).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from lxml import etree

from msc_interop.errors import MscInteropError
from msc_interop.inputs.kinds import RECORDS_DEFINITIONS, own_output
from msc_interop.runtime import gc_paused
from msc_interop.sdtm.datasetjson import rows_as_read
from msc_interop.sdtm.formats import study_meta_from_data
from msc_interop.sdtm.text_encoding import read_xport, reading
from msc_interop.study import Study, StudyMeta, conform
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.engine import (
    FORMAT_ORDER,
    SDTM_SUFFIXES,
    Options,
    _classify,
    _parse_define,
    _read_group,
    _standard,
    _validate_path,
    validate_paths,
)
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.registry import get_rule, list_rules, run
from msc_interop.validate.report import Report
from msc_interop.validate.rules import DefineContext, JsonFile, SdtmContext, XptFile
from msc_interop.validate.rules.encoding import decode_findings
from msc_interop.validate.written_views import csv_view, json_rows_checked, json_view, xpt_view

_HEADER_LIMIT = 16 << 20  # Dataset-JSON metadata larger than this is read with the whole file
_SCHEMA_ROWS = 10  # the rows MSC-DJSON-001 gives the schema (rules/files.py)


class ChecksAhead:
    """The SDTM rules of format folders run before their dataset files are written (sdtm_output.write_sdtm runs them
    while a forked process writes the files: forked.py): the views come from the Study as the files will hold
    it, the standard from the define.xml document about to be written. validate_written_study, given this,
    finds each such run where the files give those same views (the same objects) and that standard; where they
    do not (a file read back), the rules run again there: the findings are those of a run after the writing."""

    def __init__(self, study: Study):
        self.runs = _Runs(study, Options())

    def run_ahead(self, fmt: str, files: dict[str, Path], define_path: Path | None, define: bytes | None) -> None:
        """The SDTM rules of the folder that will hold `files` (dataset -> path) and, if given, the define.xml
        document `define` at `define_path`."""
        runs = self.runs
        tree = None
        if define is not None:
            try:
                tree = etree.ElementTree(etree.fromstring(define, etree.XMLParser(resolve_entities=False,
                                                                                     no_network=True)))
            except etree.XMLSyntaxError:  # pragma: no cover - our own document; the folder's check reports it
                return
        frames: dict[str, pd.DataFrame] = {}
        for name in files:
            view = runs.view(fmt, name)
            if view is None:  # read back after the writing: nothing to run ahead
                return
            frames[name] = view
        columns, view_study, _ = runs._view(frames)
        standard, conflicts = _standard(runs.options.sdtmig, tree, view_study, runs.options.ct)
        source = str(define_path if define_path is not None else next(iter(files.values())).parent)
        runs._sdtm(frames, columns, view_study, standard, tuple(conflicts), {k: str(v) for k, v in files.items()},
                   source)

    def checks_after_writing(self, fmt: str, files: dict[str, Path], define_path: Path | None,
                             define: bytes | None) -> FolderChecks | None:
        """The file-level and define.xml findings of the folder just written (`files`: dataset -> path; `define`:
        the define.xml document to be written at `define_path`), as _Runs.folder finds them: run by the process
        that wrote the files, after them (sdtm_output.write_sdtm's fork), and handed back (picklable). None where a
        file would be read back (validate_written_study then reads it)."""
        runs = self.runs
        findings: list[Finding] = []
        tree = None
        if define is not None:
            try:
                tree = etree.ElementTree(etree.fromstring(define, etree.XMLParser(resolve_entities=False,
                                                                                     no_network=True)))
            except etree.XMLSyntaxError:  # pragma: no cover - our own document
                return None
        headers: dict[str, dict[str, Any]] = {}
        frames = runs.files_checked(fmt, files, findings, headers)
        if frames is None or any(view is not runs.view(fmt, name) for name, view in frames.items()):
            return None  # (a file read back: the validation reads it again itself)
        after = (runs.define_checked(fmt, define_path, tree, frames, dict(files), headers, frozenset(files))
                 if tree is not None and define_path is not None else [])
        return FolderChecks({k: str(v) for k, v in files.items()}, str(define_path) if define_path else None,
                            _digest(define), findings, after)


@dataclass
class FolderChecks:
    """What ChecksAhead.checks_after_writing found in one format folder: used by validate_written_study where the
    folder holds exactly these files and this define.xml (the same bytes: its digest)."""

    files: dict[str, str]
    define: str | None
    digest: str | None
    before: list[Finding]  # the files' findings, in the folder's order (before the SDTM rules' findings)
    after: list[Finding]  # define.xml's rules' findings (after them)

    def describes(self, plan: _Plan) -> bool:
        define = plan.define
        return (self.files == {k: str(v) for k, v in plan.files.items()}
                and self.define == (str(define) if define is not None else None)
                and self.digest == (_digest(define.read_bytes()) if define is not None and define.is_file() else None))


def _digest(document: bytes | None) -> str | None:
    return hashlib.sha256(document).hexdigest() if document is not None else None


def validate_written_study(study: Study, outdir: Path, written: Sequence[Path],
                           ahead: ChecksAhead | None = None) -> Report:
    """The findings `validate_paths([outdir])` gives on a to-sdtm output, from the Study that was written
    (`written`: the files write_sdtm returned; `ahead`: the SDTM rules it ran while the files were written)."""
    outdir = Path(outdir)
    root = _classify(outdir) if outdir.is_dir() else None
    if root is None or own_output(outdir) is not None or any((outdir / n).is_file() for n in RECORDS_DEFINITIONS) \
            or root.groups or root.fhir or root.define is not None:
        return validate_paths([outdir])  # not the layout to-sdtm writes: as validate reads it
    options = Options()
    plans = _plans(outdir, written)
    runs = ahead.runs if ahead is not None and ahead.runs.study is study else _Runs(study, options)
    findings: list[Finding] = []
    found_any = False
    for sub in (p for p in sorted(outdir.iterdir()) if p.is_dir() and not p.name.startswith(".")):
        plan = plans.get(sub.name)
        found = None
        if plan is not None and plan.matches(_classify(sub)):
            found = runs.folder(plan)
        if found is None:
            found = _validate_path(sub, None, 1, None, options)
        if len(found) == 1 and found[0].rule_id == "MSC-IO-002":
            continue
        found_any = True
        findings += found
    if not found_any:
        return validate_paths([outdir])
    return Report(findings, sources=[str(outdir)])


@dataclass
class _Plan:
    """One format folder as this run wrote it: dataset -> file, and define.xml if written."""

    fmt: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    define: Path | None = None

    def matches(self, found: Any) -> bool:
        """Whether the folder holds exactly what was written (else it is read as validate reads it)."""
        return (not found.fhir and found.define == self.define and set(found.groups) == {self.fmt}
                and sorted(found.groups[self.fmt]) == sorted(self.files.values()))


def _plans(outdir: Path, written: Sequence[Path]) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    for path in map(Path, written):
        fmt = path.parent.name
        if path.parent.parent != outdir or fmt not in FORMAT_ORDER:
            continue
        plan = plans.setdefault(fmt, _Plan(fmt, path.parent))
        if path.name == "define.xml":
            plan.define = path
        elif SDTM_SUFFIXES.get(path.suffix.lower()) == fmt:
            plan.files[path.stem.upper()] = path
    return plans


@dataclass
class _Run:
    """The SDTM findings of one view and standard, and the files and source they point at."""

    frames: dict[str, pd.DataFrame]
    standard: Any
    conflicts: tuple[str, ...]
    files: dict[str, str]
    source: str
    findings: list[Finding]


class _Runs:
    """The format folders of one output, sharing SDTM runs and distinct-value caches between formats."""

    def __init__(self, study: Study, options: Options):
        self.study = study
        self.options = options
        self.done: list[_Run] = []
        self.caches: list[tuple[dict[str, pd.DataFrame], ColumnCache, Study, StudyMeta | None]] = []
        self._views: dict[tuple[str, str], pd.DataFrame | None] = {}
        self.after_writing: dict[str, FolderChecks] = {}  # format -> what the writing process found (write_sdtm)
        self.encodings: dict[tuple[str, str], str] = {}  # (format, dataset) -> the codec a file read back was in

    def view(self, fmt: str, name: str) -> pd.DataFrame | None:
        """What a reader of the dataset's file in `fmt` would see (written_views.py), made once: a view that is
        not the Study's own dataset (CSV's numbers as text, say) is then the same object for every caller, so
        that a run made on it is found again (_sdtm, ChecksAhead)."""
        key = ("json" if fmt == "ndjson" else fmt, name)
        if key not in self._views:
            self._views[key] = view_of(self.study, fmt, name)
        return self._views[key]

    def folder(self, plan: _Plan) -> list[Finding] | None:
        """The findings of one format folder (None: read it back as validate does)."""
        findings: list[Finding] = []
        tree = _parse_define(plan.define, findings) if plan.define is not None else None
        frames: dict[str, pd.DataFrame] = {}
        headers: dict[str, dict[str, Any]] = {}
        found = self.after_writing.get(plan.fmt)
        if found is not None and not findings and found.describes(plan):  # the files checked where written
            findings = list(found.before)
            frames = {name: self.view(plan.fmt, name) for name, _ in sorted(plan.files.items(), key=lambda kv: kv[1])}
        else:
            found = None
            got = self.files_checked(plan.fmt, plan.files, findings, headers)
            if got is None:
                return None
            frames = got
        files = {name: plan.files[name] for name in frames}
        columns, view_study, meta_error = self._view(frames)
        if meta_error is not None:
            findings.append(_studyid_finding(frames, files))
        standard, conflicts = _standard(self.options.sdtmig, tree, view_study, self.options.ct)
        source = str(plan.define if plan.define is not None else plan.folder)
        findings += self._sdtm(frames, columns, view_study, standard, tuple(conflicts),
                               {k: str(v) for k, v in files.items()}, source)
        if found is not None:
            findings += found.after
        elif tree is not None and plan.define is not None:
            findings += self.define_checked(plan.fmt, plan.define, tree, frames, files, headers, frozenset(plan.files))
        return findings

    def files_checked(self, fmt: str, files: dict[str, Path], findings: list[Finding],
                      headers: dict[str, dict[str, Any]]) -> dict[str, pd.DataFrame] | None:
        """Each file's view (in the files' order) with its file-level findings appended; None: read back."""
        frames: dict[str, pd.DataFrame] = {}
        for name, path in sorted(files.items(), key=lambda kv: kv[1]):
            view = _file(self.view(fmt, name), fmt, name, path, findings, headers, self.options, self.encodings)
            if view is None:
                return None
            frames[name] = view
        return frames

    def define_checked(self, fmt: str, define: Path, tree: Any, frames: dict[str, pd.DataFrame],
                       files: dict[str, Path], headers: dict[str, dict[str, Any]],
                       folder: frozenset[str]) -> list[Finding]:
        """define.xml's rules on the views `frames` of `files` (their column cache shared with the SDTM rules)."""
        columns, view_study, _ = self._view(frames)
        encodings = {name: codec for (of, name), codec in self.encodings.items() if of == fmt}
        ctx = DefineContext(define, tree, view_study.datasets, files, fmt, headers, document_level=True,
                            folder_datasets=folder, column_cache=columns, encodings=encodings)
        return run(Scope.DEFINE, ctx, file=str(define))

    def _view(self, frames: dict[str, pd.DataFrame]) -> tuple[ColumnCache, Study, MscInteropError | None]:
        """The column cache and Study of a view (shared by the formats with the same view)."""
        for known, columns, view_study, error in self.caches:
            if _same(known, frames):
                return columns, view_study, error
        error = None
        try:  # the SDTM rules read no StudyMeta: only whether the datasets hold one study matters here
            study_meta_from_data(_studyid_columns(frames))
        except MscInteropError as exc:
            error = exc
        view_study = Study(StudyMeta(studyid=""), {}, require_identifiers=False)
        view_study.datasets = dict(sorted(frames.items()))  # conformed already: no second pass
        columns = ColumnCache(view_study.datasets)
        self.caches.append((frames, columns, view_study, error))
        return columns, view_study, error

    def _sdtm(self, frames: dict[str, pd.DataFrame], columns: ColumnCache, view_study: Study, standard: Any,
              conflicts: tuple[str, ...], files: dict[str, str], source: str) -> list[Finding]:
        for done in self.done:
            if _same(done.frames, frames) and done.standard == standard and done.conflicts == conflicts:
                where = {done.files[k]: files[k] for k in files} | {done.source: source}
                return [_moved(f, where) for f in done.findings]
        found = run(Scope.SDTM, SdtmContext(view_study, source, files=files, whole_study=True, column_cache=columns,
                                            standard=standard, standard_conflicts=conflicts))
        self.done.append(_Run(frames, standard, conflicts, files, source, found))
        return found


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


def _moved(f: Finding, where: dict[str, str]) -> Finding:
    """The finding at the other format's file (and in its message, where the message names the file)."""
    new = where.get(f.file)
    if new is None or new == f.file:
        return f
    return replace(f, file=new, message=f.message.replace(f.file, new))


def _studyid_columns(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What study_meta_from_data refuses a study for (more than one STUDYID) without its visit table: STUDYID
    of each dataset, TS and TV whole (it reads them)."""
    return {name: df if name in ("TS", "TV") or "STUDYID" not in df.columns else df[["STUDYID"]]
            for name, df in frames.items()}


def _studyid_finding(frames: dict[str, pd.DataFrame], files: dict[str, Path]) -> Finding:
    """MSC-IO-001 as engine._study gives it when the datasets hold more than one STUDYID."""
    try:
        study_meta_from_data(_studyid_columns(frames), files)
    except MscInteropError as exc:
        folders = {p.parent for p in files.values()}
        where = str(folders.pop()) if len(folders) == 1 else ", ".join(str(p) for p in files.values())
        return get_rule("MSC-IO-001").finding(file=where, kind="one study", error=exc)
    raise AssertionError("study_meta_from_data accepted the datasets it refused")  # pragma: no cover


def view_of(study: Study, fmt: str, name: str) -> pd.DataFrame | None:
    """What a reader of the dataset's file in `fmt` would see (written_views.py; None: read the file back)."""
    return {"xpt": xpt_view, "json": json_view, "ndjson": json_view, "csv": csv_view}[fmt](study, name)


def _file(view: pd.DataFrame | None, fmt: str, name: str, path: Path, findings: list[Finding],
          headers: dict[str, dict[str, Any]], options: Options, encodings: dict[tuple[str, str], str]
          ) -> pd.DataFrame | None:
    """The view of one written file (`view`: _Runs.view's) and its file-level findings (appended); None: read the
    folder back. A file read back notes in `encodings` the codec its text was decoded with (MSC-DEF-006 measures
    Length in it: a Windows-1252 XPT's 'é' is one byte); a view's text is ASCII or UTF-8 as written."""
    if fmt == "xpt":
        view = _xpt_file(view, name, path, findings, options)
    elif fmt in ("json", "ndjson"):
        view = _json_file(view, name, path, fmt == "ndjson", findings, headers)
    # (CSV: the view as it is; no file-level check)
    if view is not None:
        return view
    read_in: dict[str, str] = {}
    frame = _read_back(fmt, name, path, findings, headers, options, read_in)
    if name in read_in:
        encodings[(fmt, name)] = read_in[name]
    return frame


def _read_back(fmt: str, name: str, path: Path, findings: list[Finding], headers: dict[str, dict[str, Any]],
               options: Options, encodings: dict[str, str]) -> pd.DataFrame | None:
    """One file read as validate reads it (with its file-level findings), conformed; `encodings` gets the codec
    of its text (validate/engine.py read_dataset_file)."""
    frames, _files, read_headers = _read_group(fmt, [path], findings, options.encoding, encodings)
    if list(frames) != [name]:
        return None
    headers.update(read_headers)
    try:
        return conform(name, frames[name])
    except MscInteropError:
        return None


def _xpt_file(view: pd.DataFrame | None, name: str, path: Path, findings: list[Finding], options: Options
              ) -> pd.DataFrame | None:
    if view is None:
        return None
    with reading(options.encoding) as log:
        _, meta = read_xport(path, metadataonly=True)
    if decode_findings(log):  # labels not in UTF-8: the read-back reports how it decoded them
        return None
    order = list(meta.column_names or [])
    data = view if list(view.columns) == order else view[order]
    xpt = XptFile(path, meta.table_name or "", meta.file_label or "", dict(meta.column_names_to_labels or {}), data)
    findings += run(Scope.XPT, xpt, file=str(path), dataset=name)
    return view


class _HeadRows(list):
    """The first rows of a file just written, standing for all `n` of them: len() is the file's row count
    (MSC-DJSON-002), slices within the first rows are those rows (MSC-DJSON-001's schema sample)."""

    def __init__(self, head: list[Any], n: int):
        super().__init__(head)
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        # a rule that reads every row (MSC-DJSON-003) is not run on a file just written; a new one must be
        # added here (or its file read back), not silently given the first rows only
        raise TypeError("the rows of a Dataset-JSON file just written are not held: only the first "
                        f"{super().__len__()} and the count (validate/written.py)")


def _json_file(view: pd.DataFrame | None, name: str, path: Path, ndjson: bool, findings: list[Finding],
               headers: dict[str, dict[str, Any]]) -> pd.DataFrame | None:
    if view is None:
        return None
    header = _json_header(path, ndjson)
    if header is None or header.get("name") != name or header.get("records") != len(view) \
            or not json_rows_checked(view, header.get("columns") or []):
        return None
    rows = _HeadRows(rows_as_read(view, header["columns"], _SCHEMA_ROWS), len(view))
    parsed = JsonFile(path, ndjson, header, rows, row_lines=ndjson)
    findings += run(Scope.DATASETJSON, parsed, file=str(path), dataset=parsed.dataset,
                    rules=[r for r in list_rules() if r.id != "MSC-DJSON-003"])
    headers[name] = header
    return view


def _json_header(path: Path, ndjson: bool) -> dict[str, Any] | None:
    """The metadata of a Dataset-JSON file as written (everything but the rows), read from the top of the
    file: the writer puts "rows" last (NDJSON: the first line); None when it cannot be told that way."""
    try:
        with path.open("rb") as fh, gc_paused():
            if ndjson:
                head = orjson.loads(fh.readline())
                return head if isinstance(head, dict) else None
            text = b""
            while len(text) < _HEADER_LIMIT:
                chunk = fh.read(1 << 16)
                text += chunk
                at = text.find(b'"rows":[')
                if at >= 0:
                    doc = orjson.loads(text[:at + 8] + b"]}")
                    if not isinstance(doc, dict) or doc.pop("rows", None) != []:
                        return None
                    return doc
                if not chunk:
                    return None
    except (OSError, orjson.JSONDecodeError):
        return None
    return None

