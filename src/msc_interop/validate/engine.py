"""What `validate` runs for each path: detect what it holds, read it once, run the rules that apply.

A path may hold:

- SDTM datasets (a folder of .xpt / .json / .ndjson / .csv, or one such file), with an optional define.xml
  beside them. Each format in a folder is validated on its own (the same dataset as XPT and as Dataset-JSON is
  two deliverables): file rules (XPT limits, Dataset-JSON schema), the SDTM rules over the Study read from
  those files, and define.xml against them.
- A `to-sdtm` output folder (xpt/ json/ ndjson/ csv/ subfolders): each format folder as above.
- Study records (a folder with study.yaml + CSV forms, or an .xlsx workbook): the records are read and built
  with the converter's own reader and builders; every rejected record is a finding (MSC-REC-001), then the SDTM
  rules run over the Study they build.
- FHIR JSON (a Bundle or one resource) or NDJSON: `HANDLERS["fhir"]` (fhir_rules) with the chosen version.
- An ADaM folder (ADSL and its analysis datasets, a to-adam output): `HANDLERS["adam"]` (validate/adam_folder.py).

Nothing stops at the first problem: an unreadable file is a finding (MSC-IO-001) and the rest goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyreadstat
from lxml import etree

from msc_interop.errors import InputError, MscInteropError
from msc_interop.inputs.kinds import RECORDS_DEFINITIONS, own_output, sniff_json
from msc_interop.inputs.load import load_study
from msc_interop.runtime import gc_paused
from msc_interop.sdtm.datasetjson_read import frame_of_rows
from msc_interop.sdtm.text_encoding import check_encoding, read_xport, reading
from msc_interop.study import Study, StudyMeta, conform
from msc_interop.validate.columns import ColumnCache
from msc_interop.validate.define_versions import detect, stated_classes, stated_ct, stated_standard
from msc_interop.validate.fhir_rules import fhir_rules
from msc_interop.validate.model import Finding, Scope
from msc_interop.validate.registry import get_rule, run
from msc_interop.validate.report import Report
from msc_interop.validate.rules import DefineContext, JsonFile, SdtmContext, XptFile
from msc_interop.validate.rules.encoding import decode_findings
from msc_interop.validate.standard import Standard, resolve, ts_version

SDTM_SUFFIXES = {".xpt": "xpt", ".json": "json", ".ndjson": "ndjson", ".csv": "csv"}
FORMAT_ORDER = ("xpt", "json", "ndjson", "csv")
_MAX_DEPTH = 3

Handler = Callable[..., Iterable[Finding]]


def validate_study(study: Study, *, source: str = "") -> Report:
    """Run the SDTM rules over an in-memory Study (what `to-sdtm` checks before it reports success).

        >>> study, _ = load_study("fixtures/example_study")      # doctest: +SKIP
        >>> validate_study(study, source="fixtures/example_study").valid   # doctest: +SKIP
        True
    """
    findings = run(Scope.SDTM, SdtmContext(study, source), file=source)
    return Report(findings, sources=[source] if source else [])


@dataclass(frozen=True)
class Options:
    """What the user told validate: the text encoding of XPT/CSV files and the SDTMIG version (None: detect per
    file / read from define.xml or TS); `deep`: run the fhir.resources models on every FHIR resource, not only on
    those the fast schema check refuses (slower; for a second opinion)."""

    encoding: str | None = None
    sdtmig: str | None = None
    deep: bool = False
    ct: str | None = None  # the CDISC CT version the study uses (--ct); None: as define.xml states
    fhir_engine: Any = None  # who reads FHIR NDJSON (None: this process; validate/fhir_dask.py: Dask workers)
    # who validates a big SDTM format folder a range of subjects at a time (None: read whole;
    # validate/folder_partitions.py): called as _validate_sdtm's per-format step, None when it declines
    sdtm_partitions: Any = None


def validate_paths(paths: Sequence[str | Path], *, fhir_version: str | None = None,
                   odm_map: str | Path | None = None, encoding: str | None = None,
                   sdtmig: str | None = None, deep: bool = False, ct: str | None = None,
                   fhir_engine: Any = None, sdtm_partitions: Any = None) -> Report:
    """Validate each path by what it holds (SDTM folder or file, to-sdtm output, study records, FHIR).
    `fhir_engine`: who reads FHIR NDJSON (None: this process; validate/fhir_dask.py: Dask workers);
    `sdtm_partitions`: who validates a big SDTM folder by subject partitions (validate/folder_partitions.py).

        >>> report = validate_paths([Path("out/sdtm")])                     # doctest: +SKIP
        >>> report.counts_by_severity()                                      # doctest: +SKIP
        {'error': 0, 'warning': 0, 'notice': 0}
    """
    options = Options(check_encoding(encoding), sdtmig, deep, check_ct(ct), fhir_engine, sdtm_partitions)
    report = Report(sources=[str(p) for p in paths])
    for p in paths:
        report.extend(_validate_path(Path(p), fhir_version, 0, odm_map, options))
    return report


# --- detection ---------------------------------------------------------------------------------------------

@dataclass
class _Folder:
    groups: dict[str, list[Path]] = field(default_factory=dict)
    fhir: list[Path] = field(default_factory=list)
    define: Path | None = None


def _classify(folder: Path) -> _Folder:
    out = _Folder()
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        suffix = p.suffix.lower()
        if suffix == ".xml" and p.name.lower().startswith("define"):
            out.define = out.define or p
        elif suffix in (".json", ".ndjson"):
            kind = sniff_json(p)
            if kind == "fhir":
                out.fhir.append(p)
            elif kind == "datasetjson":
                out.groups.setdefault(SDTM_SUFFIXES[suffix], []).append(p)
        elif suffix in (".xpt", ".csv") and own_output(p) is None:
            out.groups.setdefault(SDTM_SUFFIXES[suffix], []).append(p)
    return out


def _is_adam(folder: Path) -> bool:
    from msc_interop.adam.reverse import is_adam_folder

    return is_adam_folder(folder)


def _nothing(path: Path, reason: str) -> list[Finding]:
    return [get_rule("MSC-IO-002").finding(file=str(path), reason=reason)]


def _unreadable(path: Path, kind: str, error: object, row: int | None = None) -> Finding:
    return get_rule("MSC-IO-001").finding(file=str(path), row=row, kind=kind, error=str(error))


def _validate_path(path: Path, fhir_version: str | None, depth: int, odm_map: str | Path | None = None,
                   options: Options = Options()) -> list[Finding]:
    if not path.exists():
        return _nothing(path, "no such file or folder")
    what = own_output(path)
    if what is not None:
        return _nothing(path, f"is {what}, not data to validate")
    if path.is_file():
        return _validate_file(path, fhir_version, odm_map, options)
    if any((path / n).is_file() for n in RECORDS_DEFINITIONS):
        return HANDLERS["records"](path)
    folder = _classify(path)
    findings: list[Finding] = []
    if folder.groups and _is_adam(path):
        return list(HANDLERS["adam"](path, folder.define))
    if folder.groups:
        findings += HANDLERS["sdtm"](folder.groups, folder.define, options=options)
    elif folder.define is not None:
        findings += HANDLERS["define"](folder.define)
    if folder.fhir:
        findings += HANDLERS["fhir"](folder.fhir, fhir_version, deep=options.deep, engine=options.fhir_engine)
    if folder.groups or folder.fhir or folder.define is not None:
        return findings
    found_any = False
    if depth < _MAX_DEPTH:
        for sub in (p for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")):
            found = _validate_path(sub, fhir_version, depth + 1, None, options)
            if len(found) == 1 and found[0].rule_id == "MSC-IO-002":
                continue  # a subfolder with nothing validate reads (logs, plots) is not a finding
            found_any = True
            findings += found
    if found_any:
        return findings
    return _nothing(path, "holds no SDTM datasets (.xpt, .json, .ndjson, .csv), define.xml, study records "
                          "(study.yaml) or FHIR JSON/NDJSON, in it or in its subfolders")


def _validate_file(path: Path, fhir_version: str | None, odm_map: str | Path | None = None,
                   options: Options = Options()) -> list[Finding]:
    from msc_interop.odm import is_odm

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return HANDLERS["records"](path)
    if suffix == ".xml":
        return _validate_records(path, odm_map) if is_odm(path) else HANDLERS["define"](path)
    if suffix in (".json", ".ndjson"):
        kind = sniff_json(path)
        if kind == "fhir":
            return list(HANDLERS["fhir"]([path], fhir_version, deep=options.deep, engine=options.fhir_engine))
        if kind == "datasetjson":
            return HANDLERS["sdtm"]({SDTM_SUFFIXES[suffix]: [path]}, None, whole_study=False, options=options)
        return _nothing(path, "is neither Dataset-JSON (no datasetJSONVersion) nor FHIR (no resourceType)")
    if suffix in (".xpt", ".csv"):
        return HANDLERS["sdtm"]({SDTM_SUFFIXES[suffix]: [path]}, None, whole_study=False, options=options)
    return _nothing(path, f"a {suffix or 'suffix-less'} file is not something validate reads "
                          "(.xpt, .json, .ndjson, .csv, define.xml, .xlsx study records, ODM .xml export)")


# --- SDTM datasets ---------------------------------------------------------------------------------------------

def _validate_sdtm(groups: dict[str, list[Path]], define: Path | None, *, whole_study: bool = True,
                   options: Options = Options()) -> list[Finding]:
    findings: list[Finding] = []
    tree = _parse_define(define, findings) if define is not None else None
    group = SdtmGroup(tree=tree, define=define, whole_study=whole_study, options=options,
                      folder_datasets=frozenset(p.stem.upper() for files in groups.values() for p in files))
    for fmt in FORMAT_ORDER:
        if fmt not in groups:
            continue
        found = None
        if options.sdtm_partitions is not None:
            found = options.sdtm_partitions(fmt, groups[fmt], group)
        findings += _validate_group(fmt, groups[fmt], group) if found is None else found
        if tree is not None and define is not None:
            group = replace(group, document_level=False)
    return findings


@dataclass(frozen=True)
class SdtmGroup:
    """What the validation of one format's files of an SDTM folder knows besides them."""

    tree: etree._ElementTree | None
    define: Path | None
    whole_study: bool
    options: Options
    folder_datasets: frozenset[str]
    document_level: bool = True  # the first format checked against define.xml runs its document checks

    def source(self, paths: list[Path]) -> str:
        return str(self.define if self.define is not None else (paths[0].parent if self.whole_study else paths[0]))


def _validate_group(fmt: str, paths: list[Path], group: SdtmGroup) -> list[Finding]:
    findings: list[Finding] = []
    options, tree, define = group.options, group.tree, group.define
    encodings: dict[str, str] = {}
    frames, files, headers = _read_group(fmt, paths, findings, options.encoding, encodings)
    study = _study(frames, files, findings)
    columns = ColumnCache(study.datasets)  # distinct values per column, shared by the SDTM and define rules
    standard, conflicts = _standard(options.sdtmig, tree, study, options.ct)
    findings += run(Scope.SDTM, SdtmContext(study, group.source(paths), files={k: str(v) for k, v in files.items()},
                                            whole_study=group.whole_study, column_cache=columns,
                                            standard=standard, standard_conflicts=tuple(conflicts)))
    if tree is not None and define is not None:
        ctx = DefineContext(define, tree, study.datasets, files, fmt, headers, document_level=group.document_level,
                            folder_datasets=group.folder_datasets, column_cache=columns, encodings=encodings)
        findings += run(Scope.DEFINE, ctx, file=str(define))
    return findings


def _standard(option: str | None, tree: etree._ElementTree | None, study: Study, ct: str | None = None
              ) -> tuple[Standard, list[str]]:
    """The SDTMIG version (--sdtmig, define.xml, TS), the classes and the CT version define.xml states (or
    --ct), for the SDTM rules."""
    version = detect(tree) if tree is not None else None
    stated = stated_standard(tree, version) if tree is not None and version is not None else None
    classes = stated_classes(tree, version) if tree is not None and version is not None else {}
    standard, conflicts = resolve(option, stated, ts_version(study.datasets), classes)
    ct_stated = (ct, "--ct") if ct else stated_ct(tree, version) if tree is not None and version is not None else None
    if ct_stated:
        standard = replace(standard, ct=ct_stated[0], ct_source=ct_stated[1])
    return standard, conflicts


def check_ct(ct: str | None) -> str | None:
    """--ct as given (a CDISC CT package date, YYYY-MM-DD), or a clear error."""
    if ct is None:
        return None
    try:
        date.fromisoformat(ct.strip())
        if len(ct.strip()) != 10:
            raise ValueError
    except ValueError:
        raise MscInteropError(f"--ct {ct!r} is not a CDISC CT package date (YYYY-MM-DD, e.g. 2025-03-25)") from None
    return ct.strip()


def _read_group(fmt: str, paths: list[Path], findings: list[Finding], encoding: str | None = None,
                encodings: dict[str, str] | None = None
                ) -> tuple[dict[str, pd.DataFrame], dict[str, Path], dict[str, dict[str, Any]]]:
    """The datasets of one format folder; `encodings` (when given) gets each XPT/CSV dataset's text encoding."""
    frames: dict[str, pd.DataFrame] = {}
    files: dict[str, Path] = {}
    headers: dict[str, dict[str, Any]] = {}
    for path in paths:
        got = read_dataset_file(fmt, path, findings, encoding, encodings)
        if got is None:
            continue
        name, df, header = got
        if header is not None:
            headers[name] = header  # (before the check: a second file of the dataset states it, as it did)
        if not _first_of(name, path, fmt, files, findings):
            continue
        frames[name] = df
        files[name] = path
    return frames, files, headers


def _first_of(name: str, path: Path, fmt: str, files: dict[str, Path], findings: list[Finding]) -> bool:
    """Whether `path` is the first file of dataset `name` in its format folder (else a finding)."""
    if name in files:
        from msc_interop.sdtm.formats import one_file_per_dataset

        findings.append(get_rule("MSC-IO-001").finding(
            file=str(path), dataset=name, kind=f"an SDTM {fmt} dataset",
            error=f"it holds dataset {name}, as {files[name].name} does, and its rows are not checked: "
                  f"{one_file_per_dataset(name)}"))
        return False
    return True


def read_dataset_file(fmt: str, path: Path, findings: list[Finding], encoding: str | None = None,
                      encodings: dict[str, str] | None = None
                      ) -> tuple[str, pd.DataFrame, dict[str, Any] | None] | None:
    """One dataset file read whole with its file-level findings: (name, data, Dataset-JSON metadata or None);
    None when it cannot be read (a finding says why). `encodings`, when given, gets name -> the codec the reader
    decoded an XPT/CSV file's text with (detected, or --encoding): the bytes MSC-DEF-006 measures."""
    from msc_interop.sdtm.formats import FORMATS

    header = None
    try:
        if fmt == "xpt":
            with reading(encoding) as log:
                name, df = FORMATS["xpt"].reader(path)
            findings += decode_findings(log)
            _decided(log, encoding, name, encodings)
            df = _shared_text(df)
            with reading(encoding):  # the labels again: already reported with the data above
                _, meta = read_xport(path, metadataonly=True)
            xpt = XptFile(path, meta.table_name or "", meta.file_label or "",
                          dict(meta.column_names_to_labels or {}), df)
            findings += run(Scope.XPT, xpt, file=str(path), dataset=name)
        elif fmt in ("json", "ndjson"):
            # a million parsed rows are tens of millions of objects that cannot form cycles: without the
            # cyclic GC paused, its repeated full scans make parsing and the row checks several times slower
            with gc_paused():
                parsed = _parse_dataset_json(path, fmt == "ndjson", findings)
                if parsed is None:
                    return None
                findings += run(Scope.DATASETJSON, parsed, file=str(path), dataset=parsed.dataset)
                name, df = _dataset_from_parsed(parsed)
                header = parsed.header
                del parsed
        else:
            with reading(encoding) as log:
                name, df = FORMATS[fmt].reader(path)
            findings += decode_findings(log)
            _decided(log, encoding, name, encodings)
            df = _shared_text(df)
    except (InputError, pyreadstat.ReadstatError, pyreadstat.PyreadstatError, OSError) as exc:
        findings.append(_unreadable(path, f"an SDTM {fmt} dataset", exc))
        return None
    return name, df, header


def _decided(log: Any, given: str | None, name: str, encodings: dict[str, str] | None) -> None:
    """The codec of one file's text: what the reader decided (its log lists a file not read as UTF-8), else
    --encoding, else UTF-8 (a file whose text is ASCII or valid UTF-8)."""
    if encodings is not None:
        encodings[name] = log.files[0].encoding if log.files else (given or "utf-8")


def _shared_text(df: pd.DataFrame) -> pd.DataFrame:
    """Character columns with one str object per distinct value (XPT and CSV readers make one per cell).

    Every later step (the Study's conform, the rules' look-ups) hashes and compares the values; on shared
    objects the hash is computed once per distinct value and equal values compare by identity, which more
    than pays for this one pass on a million-row dataset.
    """
    out = {}
    for col in df.columns:
        s = df[col]
        if s.dtype == object and len(s):
            codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=False)
            # dtype=object: pandas 3 would otherwise infer its "str" dtype for an array of str
            out[col] = pd.Series(np.asarray(uniques, dtype=object)[codes], index=df.index, dtype=object)
        else:
            out[col] = s
    return pd.DataFrame(out, index=df.index)


def _dataset_from_parsed(parsed: JsonFile) -> tuple[str, pd.DataFrame]:
    """The dataset of a Dataset-JSON file whose rows are already parsed, converted exactly as the SDTM reader
    converts them (its frame builder over the parsed rows), so a million-row file is parsed once, not twice."""
    name, df, _meta = frame_of_rows(parsed.path, dict(parsed.header), [parsed.rows])
    return name, df


def _parse_dataset_json(path: Path, ndjson: bool, findings: list[Finding]) -> JsonFile | None:
    kind = "Dataset-JSON NDJSON" if ndjson else "Dataset-JSON"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        findings.append(_unreadable(path, kind, exc))
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not ndjson:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            findings.append(_unreadable(path, kind, exc))
            return None
        if not isinstance(doc, dict):
            findings.append(_unreadable(path, kind, "the top level is not an object"))
            return None
        rows = doc.pop("rows", [])
        return JsonFile(path, False, doc, rows if isinstance(rows, list) else [])
    lines = raw.split(b"\n")
    try:
        header = orjson.loads(lines[0])
    except orjson.JSONDecodeError as exc:
        findings.append(_unreadable(path, kind, f"line 1 (metadata): {exc}", row=1))
        return None
    if not isinstance(header, dict):
        findings.append(_unreadable(path, kind, "line 1 (metadata) is not an object", row=1))
        return None
    body = [ln for ln in lines[1:] if ln.strip()]
    try:
        rows = orjson.loads(b"[" + b",".join(body) + b"]")
    except orjson.JSONDecodeError:
        rows = []
        for i, ln in enumerate(lines[1:], start=2):
            if not ln.strip():
                continue
            try:
                rows.append(orjson.loads(ln))
            except orjson.JSONDecodeError as exc:
                findings.append(_unreadable(path, kind, f"line {i}: {exc}", row=i - 1))
    return JsonFile(path, True, header, rows, row_lines=True)


def _study(frames: dict[str, pd.DataFrame], files: dict[str, Path], findings: list[Finding]) -> Study:
    """The Study of the datasets read; a dataset that cannot be put in SDTM form is a finding and left out."""
    from msc_interop.sdtm.formats import study_meta_from_data

    try:
        meta = study_meta_from_data(frames, files)
    except MscInteropError as exc:
        folders = {p.parent for p in files.values()}
        where = str(folders.pop()) if len(folders) == 1 else ", ".join(str(p) for p in files.values())
        findings.append(get_rule("MSC-IO-001").finding(file=where, kind="one study", error=exc))
        meta = StudyMeta(studyid="")
    try:
        # a missing USUBJID is a finding here (MSC-SDTM-001), not a reason to drop the dataset
        return Study(meta, frames, require_identifiers=False)  # the usual case: every dataset conforms (one pass)
    except MscInteropError:
        pass
    good = {}
    for name, df in frames.items():
        try:
            good[name] = conform(name, df)
        except MscInteropError as exc:
            findings.append(_unreadable(files[name], "an SDTM dataset", exc))
            files.pop(name)
    return Study(meta, good, require_identifiers=False)


def _parse_define(path: Path, findings: list[Finding]) -> etree._ElementTree | None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        return etree.parse(str(path), parser)
    except (etree.XMLSyntaxError, OSError) as exc:
        findings.append(_unreadable(path, "Define-XML", exc))
        return None


def _validate_define_alone(path: Path) -> list[Finding]:
    """A define.xml with no datasets beside it: the XSD check only."""
    findings: list[Finding] = []
    tree = _parse_define(path, findings)
    if tree is not None:
        findings += run(Scope.DEFINE, DefineContext(path, tree, with_datasets=False), file=str(path))
    return findings


# --- study records -------------------------------------------------------------------------------------------

def _validate_records(path: Path, odm_map: str | Path | None = None) -> list[Finding]:
    """Study records (CSV folder, XLSX, ODM export + mapping): every reject is a finding, then the study rules."""
    try:
        study, rejects = load_study(path, odm_map)
    except MscInteropError as exc:
        return [_unreadable(path, "study records", exc)]
    rec = get_rule("MSC-REC-001")
    base = path if path.is_dir() else path.parent
    findings = [rec.finding(file=str(base / r.file) if path.is_dir() else str(path), dataset=r.form, row=r.row,
                            variable=r.field, value=r.value, form=r.form, reason=r.reason)
                for r in rejects.sorted()]
    findings += validate_study(study, source=str(path)).findings
    if path.suffix.lower() == ".xml":
        from msc_interop.validate.rules.odm import odm_schema_findings

        findings += odm_schema_findings(path)
    return findings


def _validate_adam(folder: Path, define: Path | None) -> list[Finding]:
    """An ADaM folder: its datasets, and define.xml (XSD, and the data against it) when there is one."""
    from msc_interop.validate.adam_folder import validate_adam

    findings: list[Finding] = []
    tree = _parse_define(define, findings) if define is not None else None
    return findings + validate_adam(folder, define, tree)


def _validate_fhir(paths: Sequence[Path], version: str | None, deep: bool = False, engine: Any = None
                   ) -> list[Finding]:
    return list(fhir_rules(paths, version, deep, engine))


# What validate runs per kind of input. "fhir" is the FHIR rule side (validate/fhir_rules.py); the FHIR package
# adds its own checks through fhir_rules.register_fhir_hook rather than by replacing this entry.
HANDLERS: dict[str, Handler] = {
    "sdtm": _validate_sdtm,
    "define": _validate_define_alone,
    "records": _validate_records,
    "fhir": _validate_fhir,
    "adam": _validate_adam,
}
