"""Read a CDISC ODM 1.3.x export (ClinicalData + its MetaDataVersion) as study records.

The file is streamed (lxml iterparse; each SubjectData is freed once merged), its OIDs are turned into
study-record fields by the mapping file (mapping.py), and the result goes through the same checks as CSV and
XLSX records (records.reader.check_forms), so every later step is the same. Rejects name the file, the line of
the ItemGroupData, the field, the value and the reason, with the OID path appended.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from msc_interop import mappings
from msc_interop.errors import InputError
from msc_interop.odm.clinical import _ITEM, ClinicalCollector, GroupKey, GroupRecord, Tally, oid_path
from msc_interop.odm.mapping import FieldSource, GroupMapping, OdmMapping, check_against_metadata, load_mapping
from msc_interop.odm.metadata import NS, Metadata, MetadataCollector, merge, q
from msc_interop.odm.safe_xml import check_size, first_elements, iter_elements, release
from msc_interop.records.reader import ROW, RawRecords, as_form_frame, check_forms
from msc_interop.records.table_check import CellProblem
from msc_interop.rejects import RejectReport

_PROBLEM = "_odm_problem"  # (field, value, reason, reject code) of a record that cannot be converted, or None


_DEF_NS = "http://www.cdisc.org/ns/def/"
_SNIFF_ELEMENTS = 5000  # start tags read to tell an export from a define.xml (metadata comes first in both)


def _odm_kind(path: Path) -> tuple[etree._Element, str]:
    """(root, 'define' | 'export'): Define-XML is ODM too; its MetaDataVersion carries def:DefineVersion."""
    elements = first_elements(path, _SNIFF_ELEMENTS)
    root = next(elements, None)
    if root is None:
        raise InputError(f"{path.name}: no XML element found")
    for elem in elements:
        local = elem.tag.split("}")[-1] if isinstance(elem.tag, str) else ""
        if local == "MetaDataVersion" and any(k.startswith("{" + _DEF_NS) for k in elem.attrib):
            return root, "define"
        if local in ("ClinicalData", "AdminData", "ReferenceData"):
            break
    return root, "export"


def is_odm(path: str | Path) -> bool:
    """True for an .xml file whose root is <ODM> (any namespace: a wrong one is reported later) and that is not
    a Define-XML document. Decided from the parsed start tags, so encodings and leading comments do not matter."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".xml":
        return False
    try:
        root, kind = _odm_kind(path)
    except InputError:  # not XML, or a DOCTYPE: if it looks like ODM let the reader say what is wrong
        with open(path, "rb") as fh:
            head = fh.read(4096)
        return b"<ODM" in head or b":ODM" in head
    return isinstance(root.tag, str) and root.tag.split("}")[-1] == "ODM" and kind == "export"


def default_mapping_path(export: Path) -> Path | None:
    """`<export stem>.odm-map.yaml` or `odm-map.yaml` beside the export, if one exists."""
    for cand in (export.with_name(export.stem + ".odm-map.yaml"), export.with_name("odm-map.yaml")):
        if cand.is_file():
            return cand
    return None


def check_root(path: Path) -> Any:
    """Refuse what is not ODM 1.3 before reading further: DOCTYPE, wrong root, wrong namespace. Returns the
    root element (start tag only: its attributes, e.g. FileType)."""
    root, kind = _odm_kind(path)
    tag = root.tag if isinstance(root.tag, str) else ""
    local = tag.split("}")[-1]
    ns = tag[1:].split("}")[0] if tag.startswith("{") else ""
    if local != "ODM":
        raise InputError(f"{path.name}: not a CDISC ODM file: the root element is <{local}>, expected <ODM>")
    if ns != NS:
        raise InputError(f"{path.name}: line {root.sourceline}: <ODM> is in namespace {ns or '(none)'!r}; msc-interop "
                         f"reads ODM 1.3.x, whose namespace is {NS!r}")
    if kind == "define":
        raise InputError(f"{path.name}: this is a Define-XML file (metadata describing SDTM datasets, no "
                         "ClinicalData), not an EDC export; give the SDTM dataset folder instead")
    return root


def read_odm(path: str | Path, mapping_path: str | Path | None = None) -> RawRecords:
    """Stream an ODM export into checked study records (same checks and reject report as CSV/XLSX input)."""
    path = Path(path)
    check_size(path)
    root = check_root(path)
    if mapping_path is None:
        mapping_path = default_mapping_path(path)
        if mapping_path is None:
            raise InputError(f"{path.name}: an ODM export needs a mapping file (--odm-map FILE, or "
                             f"{path.stem}.odm-map.yaml / odm-map.yaml beside it); propose one with "
                             f"`msc-interop odm-map {path.name} > odm-map.yaml` and fill in the marked decisions")
    mapping = load_mapping(mapping_path)
    meta, collector = _stream(path, mapping, snapshot=root.get("FileType") == "Snapshot")
    rejects = RejectReport()
    rejects.notes.extend(_notes(path, meta, collector))
    _reject_uncovered(path, meta, collector.tally, rejects)
    _reject_site_conflicts(path, collector, rejects)
    tables, where, problems, read_before = _tables(path, meta, mapping, collector, rejects)
    files = {form: path.name for form in tables}

    def first_checks(form: str, df: pd.DataFrame) -> Iterator[CellProblem]:
        yield from problems.get(form, ())
        yield from _datatype_problems(meta, mapping, form, df)

    records = check_forms(tables, files, mapping.definition, source=str(path), first_checks=first_checks,
                          rejects=rejects, read_before=read_before)
    records.where = where
    records.unparsed = _unread_records(path, meta, mapping, collector)
    return records


# Containers outside SubjectData that hold no subject data for the Study: read past, freed, counted.
_OTHER_TAGS = ("AuditRecords", "Signatures", "Annotations", "ReferenceData", "Association", "User", "SignatureDef")


def _stream(path: Path, mapping: OdmMapping, snapshot: bool) -> tuple[Metadata, ClinicalCollector]:
    """One pass: metadata as it comes, then each SubjectData merged and freed. Memory holds the kept records,
    never the tree."""
    found = MetadataCollector()
    skipped_early: Counter = Counter()  # AdminData users, ReferenceData: before the first SubjectData
    meta: Metadata | None = None
    collector: ClinicalCollector | None = None
    tags = [q(t) for t in (*MetadataCollector.TAGS, "SubjectData", *_OTHER_TAGS)]
    for elem in iter_elements(path, tags):
        local = elem.tag.split("}")[-1]
        if local == "SubjectData":
            if collector is None:
                meta = _choose_metadata(path, mapping, found.versions)
                check_against_metadata(mapping, meta)
                collector = ClinicalCollector(meta, mapping, snapshot)
                collector.tally.skipped.update(skipped_early)
            clinical = elem.getparent()
            study, version = clinical.get("StudyOID", ""), clinical.get("MetaDataVersionOID", "")
            if study == meta.study_oid and (not version or version in meta.version_oid.split("+")):
                collector.add_subject(elem)
            else:
                collector.tally.note(collector.tally.other_data, (study, version), elem.sourceline or 0,
                                     sum(1 for e in elem.iter() if isinstance(e.tag, str) and e.tag.startswith(_ITEM)))
        elif local in _OTHER_TAGS:
            n = sum(1 for e in elem.iter() if isinstance(e.tag, str) and e.tag.startswith(_ITEM))
            (collector.tally.skipped if collector is not None else skipped_early)[
                local + (" (holding ItemData that are not subject data)" if n else "")] += 1
        else:
            found.take(elem)
        release(elem)
    if collector is None:  # no SubjectData at all: still check the mapping, then report empty forms
        meta = _choose_metadata(path, mapping, found.versions)
        check_against_metadata(mapping, meta)
        collector = ClinicalCollector(meta, mapping, snapshot)
        collector.tally.skipped.update(skipped_early)
    assert meta is not None
    return meta, collector


def _choose_metadata(path: Path, mapping: OdmMapping, versions: list[Metadata]) -> Metadata:
    """The MetaDataVersion the mapping names; without a name, the study's only one, or all of the study's
    versions merged (a CRF amended during the study: its subjects are read whichever version they were in)."""
    if not versions:
        raise InputError(f"{path.name}: no Study/MetaDataVersion before the ClinicalData; msc-interop needs the "
                         "export with its metadata (ItemDefs, CodeLists) to read the values")
    studies = sorted({m.study_oid for m in versions})
    study = mapping.study_oid or (studies[0] if len(studies) == 1 else "")
    found = ", ".join(f"Study {m.study_oid} / MetaDataVersion {m.version_oid}" for m in versions)
    if not study:
        raise InputError(f"{path.name}: the export holds several studies ({', '.join(studies)}); set study_oid in "
                         f"the mapping. The export has: {found}")
    chosen = [m for m in versions if m.study_oid == study
              and (not mapping.version_oid or m.version_oid == mapping.version_oid)]
    if not chosen:
        raise InputError(f"{path.name}: no MetaDataVersion matches the mapping (study_oid {study}, "
                         f"metadata_version_oid {mapping.version_oid or 'any'}); the export has: {found}")
    return chosen[0] if len(chosen) == 1 else merge(chosen)


def _resolve(src: FieldSource, rec: GroupRecord, subject: str, site: str, key: tuple[str, ...],
             meta: Metadata, mapping: OdmMapping) -> tuple[str, str | None]:
    """(value, problem reason or None) of one field of one record."""
    if src.kind == "constant":
        return src.constant, None
    if src.kind == "context":
        se_oid, se_rk, _fd, fd_rk, _ig, ig_rk = key
        if src.context == "SubjectKey":
            return subject, None
        if src.context == "SiteRef":
            if site and mapping.sites and site not in mapping.sites:
                return site, (f"LocationOID {site} is not in the map's sites ({', '.join(mapping.sites)}); add it "
                              "there with its SITEID")
            return mapping.sites.get(site, site), None
        if src.context == "StudyEvent":
            if se_oid not in mapping.study_events:
                return se_oid, (f"StudyEventOID {meta.describe(se_oid)} has no visit in the mapping's "
                                "study_events; add it (a visit name or alias of the study definition, or null)")
            return mapping.study_events[se_oid] or "", None
        return {"StudyEventRepeatKey": se_rk, "FormRepeatKey": fd_rk, "ItemGroupRepeatKey": ig_rk}[src.context], None
    if src.kind == "unit":
        unit = rec.units.get(src.item, "") if rec.units else ""
        if not unit:
            return "", None
        if unit not in meta.units:
            return unit, f"MeasurementUnitOID {unit!r} of {src.item} is not defined in BasicDefinitions"
        allowed = meta.items[src.item].units
        if allowed and unit not in allowed:
            return unit, (f"MeasurementUnitOID {unit!r} is not one of the MeasurementUnitRefs of ItemDef "
                          f"{meta.describe(src.item)} ({', '.join(allowed)})")
        return meta.units[unit], None
    value = rec.items.get(src.item, "")
    cl_oid = meta.items[src.item].codelist
    if value and cl_oid and src.decode and cl_oid not in meta.external_codelists:
        codes = meta.codelists.get(cl_oid)
        if codes is None:
            return value, f"{src.item} refers to CodeList {cl_oid!r}, which the MetaDataVersion does not define"
        code = value if value in codes else _numeric_code(value, codes, meta.codelist_types.get(cl_oid, "text"))
        if code is None:
            return value, (f"{value!r} is not a CodedValue of CodeList {cl_oid} (ItemDef {src.item}); "
                           f"allowed: {', '.join(list(codes)[:12])}")
        return codes[code], None
    return value, None


def _numeric_code(value: str, codes: dict[str, str], datatype: str) -> str | None:
    """For an integer/float CodeList, the CodedValue equal in number ("1.0" is "1"); None if there is none."""
    if datatype not in ("integer", "float"):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    for code in codes:
        try:
            if float(code) == number:
                return code
        except ValueError:
            continue
    return None


def _unread_units(g: GroupMapping, rec: GroupRecord, meta: Metadata) -> tuple[str, str, str] | None:
    """A MeasurementUnitRef the entry does not read would be lost (18 months read as 18 years): a problem."""
    if not rec.units:
        return None
    read = {src.item for src in g.fields.values() if src.kind == "unit"}
    for oid, unit in rec.units.items():
        if oid in g.items and oid not in read:
            symbol = meta.units.get(unit, unit)
            return (oid, rec.items.get(oid, ""), f"ItemData {oid} carries the unit {symbol!r} "
                    f"(MeasurementUnitRef {unit}) but the mapping reads no unit for it; map a field to @Unit({oid})")
    return None


class OidPaths(Mapping[tuple[str, int], str]):
    """(form, line) -> OID path of the record there, formatted only when a reject asks for it; a line that
    holds several records (a file without line breaks) has no path rather than a wrong one."""

    def __init__(self) -> None:
        self._at: dict[tuple[str, int], tuple[str, tuple[str, ...]] | None] = {}

    def __getitem__(self, where: tuple[str, int]) -> str:
        found = self._at[where]
        if found is None:
            raise KeyError(where)
        return oid_path(*found)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return (k for k, v in self._at.items() if v is not None)

    def __len__(self) -> int:
        return sum(1 for v in self._at.values() if v is not None)

    def add(self, form: str, line: int, subject: str, key: tuple[str, ...]) -> None:
        where = (form, line)
        if where in self._at and self._at[where] != (subject, key):
            self._at[where] = None
        else:
            self._at.setdefault(where, (subject, key))


# ODM-level rejections of a record that holds no data of its own (an Update of a key no transaction inserted: only
# the items that changed): rejected for that alone, never a row the field checks would find empty fields in
_NO_RECORD_CODES = frozenset({"REJ-ODM-007"})


def _tables(path: Path, meta: Metadata, mapping: OdmMapping, collector: ClinicalCollector, rejects: RejectReport
            ) -> tuple[dict[str, pd.DataFrame], OidPaths, dict[str, list[CellProblem]], dict[str, int]]:
    """One text DataFrame per form (with `_row` = line of the ItemGroupData), the OID path of each
    (form, line), the records' ODM-level problems as CellProblems, and the records of each form rejected into
    `rejects` here, not made rows (_NO_RECORD_CODES)."""
    rows: dict[str, list[dict[str, str]]] = {g.form: [] for g in mapping.groups}
    lines: dict[str, list[int]] = {form: [] for form in rows}
    no_record: dict[str, int] = {}
    paths = OidPaths()
    for subject, key, rec in _records(collector):
        site = collector.sites.get(subject, "")
        for g in _groups_for(mapping, key):
            row: dict[str, Any] = {}
            problem = None
            if rec.problems:
                oid, value, reason, code = rec.problems[0]
                problem = (_field_of(g, oid), value, reason, code)
            for name, src in g.fields.items():
                row[name], why = _resolve(src, rec, subject, site, key, meta, mapping)
                if why and problem is None:
                    problem = (name, row[name], why, "REJ-ODM-005")
            if problem is None and rec.units:
                unread = _unread_units(g, rec, meta)
                if unread is not None:
                    problem = (_field_of(g, unread[0]), unread[1], unread[2], "REJ-ODM-005")
            paths.add(g.form, rec.line, subject, key)
            if problem is not None and problem[3] in _NO_RECORD_CODES:
                rejects.add(g.form, path.name, rec.line, problem[0], problem[1], problem[2], code=problem[3])
                no_record[g.form] = no_record.get(g.form, 0) + 1
                continue
            row[_PROBLEM] = problem
            rows[g.form].append(row)
            lines[g.form].append(rec.line)
    tables, problems = {}, {}
    for form, form_rows in rows.items():
        fields = list(mappings.schema("records")["$defs"][form]["properties"])
        used = [f for f in fields if any(f in g.fields for g in mapping.groups if g.form == form)]
        df = pd.DataFrame(form_rows, columns=[*used, _PROBLEM], dtype=object)
        flagged = df.pop(_PROBLEM)
        df = df.fillna("")
        df = as_form_frame(df, f"{path.name}[{form}]", rows=pd.Series(lines[form], index=df.index, dtype="int64"))
        tables[form] = df
        problems[form] = _problem_cells(flagged)
    return tables, paths, problems, no_record


def _records(collector: ClinicalCollector) -> Iterator[tuple[str, GroupKey, GroupRecord]]:
    """Each record by subject (the records of its keys, then its rejected ones that hold no key), each subject's
    freed as it becomes rows: the peak holds one copy."""
    for subject in list(collector.subjects):
        groups = collector.subjects.pop(subject)
        for key, first in groups.items():
            for rec in first.occurrences():
                yield subject, key, rec
        for key, rec in collector.detached.pop(subject, ()):
            yield subject, key, rec
    for subject, detached in list(collector.detached.items()):  # of a subject removed later: still rejected
        for key, rec in detached:
            yield subject, key, rec


def _groups_for(mapping: OdmMapping, key: tuple[str, ...]) -> list[GroupMapping]:
    return [g for g in mapping.groups_for(key[4]) if not g.form_oid or g.form_oid == key[2]]


def _field_of(g: GroupMapping, oid: str) -> str:
    return next((name for name, src in g.fields.items() if src.item == oid), oid)


def _problem_cells(flagged: pd.Series) -> list[CellProblem]:
    """Group the per-record ODM problems by field and reject code into CellProblems (mask + per-row reason)."""
    out = []
    has = flagged.notna()
    if not has.any():
        return out
    sub = flagged[has]
    by_field: dict[tuple[str, str], list[int]] = {}
    for idx, (name, _value, _reason, code) in sub.items():
        by_field.setdefault((name, code), []).append(idx)
    for (name, code), idx in by_field.items():
        mask = pd.Series(False, index=flagged.index)
        mask[idx] = True
        reason = pd.Series("", index=flagged.index, dtype=object)
        reason[idx] = [sub[i][2] for i in idx]
        out.append(CellProblem(name, mask, reason, code))
    return out


def _datatype_problems(meta: Metadata, mapping: OdmMapping, form: str, df: pd.DataFrame) -> Iterator[CellProblem]:
    """Values that do not match their ItemDef DataType / Length (vectorised per column)."""
    datatypes = mappings.load("odm")["datatypes"]
    for g in mapping.groups:
        if g.form != form:
            continue
        for name, src in g.fields.items():
            if src.kind != "item" or name not in df.columns:
                continue
            item = meta.items[src.item]
            if item.codelist and src.decode:
                continue  # checked as a CodedValue
            s = df[name]
            filled = s != ""
            rx = datatypes.get(item.datatype)
            if rx is not None:
                bad = filled & ~s.str.fullmatch(rx, flags=re.ASCII).fillna(False)
                if bad.any():
                    yield CellProblem(name, bad, f"value does not match the DataType {item.datatype} of ItemDef "
                                                 f"{meta.describe(src.item)}")
            if item.length:
                long = filled & (s.str.len() > item.length)
                if long.any():
                    yield CellProblem(name, long, f"value is longer than the Length {item.length} of ItemDef "
                                                  f"{meta.describe(src.item)}")


def _reject_uncovered(path: Path, meta: Metadata, t: Tally, rejects: RejectReport) -> None:
    """Items the mapping does not cover, OIDs the metadata does not define and ClinicalData of other studies or
    versions go to the reject report: one line per OID with its count and first line (exit status 1)."""
    for ig, n in sorted(t.unmapped_groups.items()):
        rejects.add("odm", path.name, t.first_line[ig], ig, f"{n} ItemData",
                    f"item group {meta.describe(ig)} is not in the mapping: its {n} ItemData were not converted "
                    "(map it under item_groups, or list it under ignore)", code="REJ-ODM-001")
    for (ig, item), n in sorted(t.unmapped_items.items()):
        rejects.add("odm", path.name, t.first_line[(ig, item)], item, f"{n} ItemData",
                    f"item {meta.describe(item)} of {ig} is not used by the mapping: {n} value(s) not converted "
                    "(map it to a field, or list it under ignore)", code="REJ-ODM-002")
    for (kind, oid), n in sorted(t.unknown_oids.items()):
        rejects.add("odm", path.name, t.first_line[(kind, oid)], kind, oid,
                    f"{kind} {oid!r} is not defined in MetaDataVersion {meta.version_oid} ({n} occurrence(s))"
                    + (": its values were not converted" if kind == "ItemOID" else ""), code="REJ-ODM-003")
    for (study, version), n in sorted(t.other_data.items()):
        rejects.add("odm", path.name, t.first_line[(study, version)], "ClinicalData", f"{study}/{version}",
                    f"ClinicalData of Study {study} / MetaDataVersion {version or '(none)'} is not what the mapping "
                    f"reads (Study {meta.study_oid} / {meta.version_oid}): {n} ItemData not converted",
                    code="REJ-ODM-004")


def _reject_site_conflicts(path: Path, collector: ClinicalCollector, rejects: RejectReport) -> None:
    """A SubjectKey met under two different SiteRefs: the later SubjectData is not read (one reject each)."""
    for subject, first, first_line, loc, line, n in collector.site_conflicts:
        rejects.add("odm", path.name, line, "SiteRef", loc,
                    f"SubjectKey {subject!r} is under SiteRef LocationOID {loc} here (line {line}) but under "
                    f"{first} at line {first_line}: a subject belongs to one site, so this SubjectData's {n} "
                    f"ItemData were not converted (neither merged into subject {subject} of {first} nor moved to "
                    f"{loc}); fix the export, or give the two subjects distinct SubjectKeys", code="REJ-ODM-006")


def _unread_records(path: Path, meta: Metadata, mapping: OdmMapping, collector: ClinicalCollector
                    ) -> dict[str, pd.DataFrame]:
    """The records each SubjectData not read (REJ-ODM-006) holds, per form, as the form's rows would hold them, by
    the line of their ItemGroupData: what the notes on the derivations made without them read (their subject,
    visit and dates: sdtm/lost_records.py)."""
    rows: dict[str, list[dict[str, str]]] = {}
    lines: dict[str, list[int]] = {}
    for subject, groups in collector.unread:
        for key, rec in groups:
            for g in _groups_for(mapping, key):
                rows.setdefault(g.form, []).append({name: _resolve(src, rec, subject, "", key, meta, mapping)[0]
                                                    for name, src in g.fields.items()})
                lines.setdefault(g.form, []).append(rec.line)
    return {form: as_form_frame(pd.DataFrame(found, dtype=object).fillna(""), f"{path.name}[{form}]",
                                rows=pd.Series(lines[form], dtype="int64"))
            for form, found in rows.items()}


def _notes(path: Path, meta: Metadata, collector: ClinicalCollector) -> list[str]:
    """What was read, and what was skipped on purpose (audit trail, signatures, vendor data, removals)."""
    t = collector.tally
    notes = [f"{path.name}: ODM {meta.study_oid}/{meta.version_oid}: {len(collector.subjects)} subject(s), "
             f"{t.item_data} ItemData read"]
    if t.skipped:
        notes.append("  skipped on purpose: " + ", ".join(f"{n} {k}" for k, n in sorted(t.skipped.items())))
    if t.updated:
        notes.append(f"  TransactionType=Update/Upsert applied: {t.updated} ItemGroupData merged item by item into the "
                     "record of their OIDs and repeat keys (the newest value wins)")
    if t.removed:
        kept = (f"; {t.removed_rejected} record(s) under them rejected as read stay listed as rejects (a Remove does "
                "not undo a rejection)" if t.removed_rejected else "")
        notes.append("  TransactionType=Remove applied: " + ", ".join(f"{n} {k}" for k, n in sorted(t.removed.items()))
                     + kept)
    if t.update_missing:
        notes.append(f"  TransactionType=Update of no record: {t.update_missing} ItemGroupData rejected, none created "
                     "(REJ-ODM-007: ODM 1.3.2 makes an Update of data that does not exist an error)")
    if t.context:
        differs = (f", {t.context_differs} of them with values other than the record's (first at line "
                   f"{t.context_differs_line})" if t.context_differs else "")
        missing = (f", {t.context_missing} of them of a record that does not exist (never sent, or removed; first at "
                   f"line {t.context_missing_line}): none created" if t.context_missing else "")
        own = (f"; {t.context_items} ItemData under them stating a TransactionType of its own applied to the record"
               if t.context_items else "")
        notes.append(f"  TransactionType=Context not applied (data resent for context only): {t.context} "
                     f"ItemGroupData{differs}{missing}{own}")
    return notes


__all__ = ["ROW", "default_mapping_path", "is_odm", "read_odm"]
