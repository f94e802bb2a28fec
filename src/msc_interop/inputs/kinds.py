"""What a path holds: study records, a CDISC ODM export, SDTM datasets, FHIR, or one of msc-interop's own
reports (which are never read as data).

This module imports no reader, so any reader may ask it (the FHIR reader lists a folder's files through it).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from msc_interop.errors import InputError

RECORDS_DEFINITIONS = ("study.yaml", "study.yml", "study.json")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
SDTM_SUFFIXES = (".xpt", ".json", ".ndjson", ".csv")
FHIR_SUFFIXES = (".json", ".ndjson")
# The SDTM format folders a `to-sdtm` / `from-fhir` output holds, in the order a reader prefers them.
SDTM_FORMAT_PREFERENCE = ("json", "ndjson", "xpt", "csv")

SNIFF_BYTES = 1 << 16

# What the opening bytes of the tool's own report files look like (the writers: rejects.RejectReport.write_*,
# validate.report.Report.to_json / to_csv). tests/test_inputs.py writes each and checks it is recognised here.
_OWN_REPORT_OPENINGS = (
    (b'{\n  "counts": [', "the reject report of an msc-interop run"),
    (b"form,file,row,", "the reject report of an msc-interop run"),
    (b'{\n  "valid": ', "a validation report of msc-interop validate"),
    (b"rule_id,severity,", "a validation report of msc-interop validate"),
)
# ... and of the human-readable ones (validate.report.to_html, summary.render)
_OWN_PAGE_MARKS = (
    (b"<title>msc-interop validation report</title>", "a validation report of msc-interop validate"),
    (b"<title>Safety summary: ", "a safety summary written by msc-interop summary"),
    (b"# Safety summary: ", "a safety summary written by msc-interop summary"),
)
_SUMMARY_FILES = ("summary.html", "summary.md")


_FHIR_HINT = ("{path}: holds FHIR resources, not study records or SDTM: read them into SDTM with "
              "`msc-interop from-fhir {path} -o OUTDIR` (summary and validate take FHIR as it is)")


class InputKind(StrEnum):
    RECORDS = "records"  # study records: a folder with study.yaml + CSV forms, or an .xlsx workbook
    ODM = "odm"  # a CDISC ODM 1.3 export of an EDC
    SDTM = "sdtm"  # SDTM datasets (XPT, Dataset-JSON, CSV), a folder of them or one file
    FHIR = "fhir"  # FHIR Bundles / resources / NDJSON, files or folders of them


def _head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(size)
    except OSError:
        return b""
    return head[3:] if head.startswith(b"\xef\xbb\xbf") else head


def sniff_json(path: Path) -> str:
    """'fhir', 'datasetjson' or 'other': which of the two top-level keys comes first in the file's opening
    bytes (for NDJSON, in its first line)."""
    head = _head(path)
    if path.suffix.lower() == ".ndjson":
        head = head.split(b"\n", 1)[0]
    found = {kind: head.find(key) for kind, key in (("fhir", b'"resourceType"'),
                                                     ("datasetjson", b'"datasetJSONVersion"'))}
    found = {k: v for k, v in found.items() if v >= 0}
    return min(found, key=found.__getitem__) if found else "other"


def own_output(path: Path) -> str | None:
    """What msc-interop output `path` is when it is one of the tool's reports rather than data (a reject
    report, a validation report, a safety-summary folder); None otherwise."""
    if path.is_dir():
        if any((path / n).is_file() for n in _SUMMARY_FILES) and (path / "csv").is_dir():
            return "a safety summary written by msc-interop summary"
        return None
    if path.suffix.lower() in (".html", ".md"):
        page = _head(path, 1024)
        return next((what for mark, what in _OWN_PAGE_MARKS if mark in page), None)
    if path.suffix.lower() not in (".json", ".csv"):
        return None
    head = _head(path, 64)
    for opening, what in _OWN_REPORT_OPENINGS:
        if head.startswith(opening):
            return what
    return None


def refuse_own_outputs(paths: list[Path]) -> None:
    """InputError for a path that is one of the tool's own reports or summaries (data was asked for)."""
    for p in paths:
        what = own_output(p) if p.exists() else None
        if what is not None:
            raise InputError(f"{p}: this is {what}, not study data; give the study records, SDTM or FHIR "
                             "it was made from")


def listed_files(folder: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """The data files of `folder` with one of `suffixes` (sorted by name; hidden files left out), and a note
    for each of the tool's own reports found there and skipped."""
    files: list[Path] = []
    notes: list[str] = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.suffix.lower() not in suffixes:
            continue
        what = own_output(p)
        if what is not None:
            notes.append(f"{p}: skipped, it is {what}, not data")
            continue
        files.append(p)
    return files, notes


def is_fhir(path: str | Path) -> bool:
    """True for a FHIR Bundle/resource JSON file, an NDJSON file of resources, or a folder holding one."""
    path = Path(path)
    if path.is_dir():
        return any(sniff_json(p) == "fhir" for p in listed_files(path, FHIR_SUFFIXES)[0])
    return path.is_file() and path.suffix.lower() in FHIR_SUFFIXES and sniff_json(path) == "fhir"


def bulk_manifest(path: Path) -> int | None:
    """How many files the `output` of a FHIR Bulk Data export manifest lists, when `path` is one (a JSON object
    with transactionTime and output, no resourceType: the $export status response saved beside the NDJSON);
    None otherwise. It is no resource, so it must not be read (or rejected) as one."""
    if path.suffix.lower() != ".json" or sniff_json(path) != "other":
        return None
    head = _head(path)
    if b'"transactionTime"' not in head or b'"output"' not in head:
        return None
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and "resourceType" not in doc and "transactionTime" in doc and \
            isinstance(doc.get("output"), list):
        return len(doc["output"])
    return None


def _manifest_note(path: Path, listed: int) -> str:
    return (f"{path}: skipped, it is a FHIR Bulk Data export manifest (not a resource; its output lists {listed} "
            "NDJSON file(s))")


def fhir_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to read for FHIR input: files given as they are, folders' .json / .ndjson files without the
    tool's own reports and Bulk Data manifests; plus a note per file skipped."""
    out: list[Path] = []
    notes: list[str] = []
    manifests: list[Path] = []
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        listed = bulk_manifest(p) if p.is_file() else None
        if listed is not None:
            notes.append(_manifest_note(p, listed))
            manifests.append(p)
            continue
        if not p.is_dir():
            if p.suffix.lower() not in FHIR_SUFFIXES:
                raise InputError(f"{p}: not a FHIR file: FHIR comes as .json (a Bundle or one resource) or .ndjson "
                                 "(one resource per line)")
            if sniff_json(p) == "datasetjson":
                raise InputError(f"{p}: an SDTM Dataset-JSON dataset, not FHIR: convert SDTM to FHIR with "
                                 f"`msc-interop to-fhir {p.parent} -o OUTDIR`")
            out.append(p)
            continue
        found, skipped = listed_files(p, FHIR_SUFFIXES)
        notes += skipped
        for f in list(found):
            listed = bulk_manifest(f)
            if listed is not None:
                notes.append(_manifest_note(f, listed))
                found.remove(f)
        if not found:
            raise InputError(f"{p}: no .json or .ndjson files in this folder"
                             + (" other than msc-interop's own reports" if skipped else "")
                             + (" and a Bulk Data export manifest" if len(notes) > len(skipped) else ""))
        out += found
    if not out and manifests:
        raise InputError(f"{manifests[0]}: a FHIR Bulk Data export manifest, not FHIR resources: give the folder "
                         "(or the NDJSON files) its output lists")
    return out, notes


def is_sdtm_dataset(path: Path) -> bool:
    """An .xpt or .csv file that is not one of the tool's reports, or Dataset-JSON (.json / .ndjson)."""
    suffix = path.suffix.lower()
    if suffix in FHIR_SUFFIXES:
        return sniff_json(path) == "datasetjson"
    return suffix in SDTM_SUFFIXES and own_output(path) is None


def has_sdtm_datasets(folder: Path) -> bool:
    return any(is_sdtm_dataset(p) for p in listed_files(folder, SDTM_SUFFIXES)[0])


def sdtm_folder(path: Path) -> Path | None:
    """The folder of SDTM datasets at `path`: itself, or the preferred format folder of a `to-sdtm` output
    (json, ndjson, xpt, csv subfolders); None if there is none."""
    if has_sdtm_datasets(path):
        return path
    for fmt in SDTM_FORMAT_PREFERENCE:
        if (path / fmt).is_dir() and has_sdtm_datasets(path / fmt):
            return path / fmt
    return None


def _names_subject_id(path: Path) -> bool:
    """Whether the file's header row names subject_id, as every study-records form does (a summary's
    disposition.csv does not)."""
    from msc_interop.records.unread import holds_records

    return holds_records(_head(path, 1 << 16).split(b"\n", 1)[0].decode("utf-8", errors="replace"))


def _records_form_files() -> dict[str, str]:
    """The file name (lower case) of each study-records form -> the form (mappings/schema/records.schema.json)."""
    from msc_interop.mappings import schema

    return {spec["file"].lower(): form for form, spec in schema("records")["x-forms"].items()}


def input_kind(path: str | Path) -> InputKind:
    """Study records, an ODM export or SDTM datasets (the single-path inputs of to-sdtm / to-fhir); refuses,
    naming what it is, anything else, the tool's own reports and summaries included."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    refuse_own_outputs([path])
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in WORKBOOK_SUFFIXES:
            return InputKind.RECORDS
        if suffix == ".xml":
            from msc_interop.odm import is_odm

            if not is_odm(path):
                raise InputError(f"{path}: an .xml input must be a CDISC ODM 1.3 export (ClinicalData); this file "
                                 "is not (a define.xml describes SDTM datasets: give the dataset folder instead)")
            return InputKind.ODM
        if suffix in FHIR_SUFFIXES and sniff_json(path) == "fhir":
            raise InputError(_FHIR_HINT.format(path=path))
        form = _records_form_files().get(path.name.lower())
        if form is not None and _names_subject_id(path):
            raise InputError(f"{path}: the file of the '{form}' form of study records, not an SDTM dataset: give "
                             "the records folder (study.yaml beside the form files) as the input")
        if suffix in SDTM_SUFFIXES:
            return InputKind.SDTM
        raise InputError(f"{path}: not a study-records workbook (.xlsx), a CDISC ODM export (.xml) or an SDTM "
                         f"dataset ({', '.join(SDTM_SUFFIXES)})")
    if any((path / n).exists() for n in RECORDS_DEFINITIONS):
        return InputKind.RECORDS
    forms = sorted(p.name for p in path.iterdir() if p.name.lower() in _records_form_files() and p.is_file())
    if forms:
        raise InputError(f"{path}: holds study-records forms ({', '.join(forms)}) but no study definition: put "
                         f"{RECORDS_DEFINITIONS[0]} beside them (the study, its sites, arms and visits; README: 'Study "
                         "records: the data manager's side')")
    if sdtm_folder(path) is not None:
        return InputKind.SDTM
    if is_fhir(path):
        raise InputError(_FHIR_HINT.format(path=path))
    raise InputError(f"{path}: holds neither study records (study.yaml + CSV forms) nor SDTM datasets "
                     f"({', '.join(SDTM_SUFFIXES)})")
