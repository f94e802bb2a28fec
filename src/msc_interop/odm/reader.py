"""Read a CDISC ODM 1.3.x export (ClinicalData + its MetaDataVersion) as study records.

The file is streamed (lxml iterparse; each SubjectData is freed once merged), its OIDs are turned into
study-record fields by the mapping file (mapping.py), and the result goes through the same checks as CSV and
XLSX records (records.reader.check_forms), so every later step is the same. Rejects name the file, the line of
the ItemGroupData, the field, the value and the reason, with the OID path appended.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from msc_interop import mappings
from msc_interop.errors import InputError
from msc_interop.odm.clinical import ClinicalCollector, GroupRecord, oid_path
from msc_interop.odm.mapping import FieldSource, GroupMapping, OdmMapping, check_against_metadata, load_mapping
from msc_interop.odm.metadata import (
    NS,
    Metadata,
    q,
    read_basic_definitions,
    read_global_variables,
    read_location,
    read_metadata_version,
)
from msc_interop.odm.safe_xml import check_size, iter_elements, release, root_of
from msc_interop.records.reader import ROW, RawRecords, as_form_frame, check_forms
from msc_interop.records.table_check import CellProblem
from msc_interop.rejects import RejectReport

_PROBLEM = "_odm_problem"  # (field, value, reason) of a record that cannot be converted, or None


def is_odm(path: str | Path) -> bool:
    """True for an .xml file whose root is <ODM> and that is not Define-XML (also an ODM document, but one
    that declares the def: namespace and holds metadata only). A wrong ODM namespace is reported later."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".xml":
        return False
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return (b"<ODM" in head or b":ODM" in head) and b"cdisc.org/ns/def/" not in head


def default_mapping_path(export: Path) -> Path | None:
    """`<export stem>.odm-map.yaml` or `odm-map.yaml` beside the export, if one exists."""
    for cand in (export.with_name(export.stem + ".odm-map.yaml"), export.with_name("odm-map.yaml")):
        if cand.is_file():
            return cand
    return None


def check_root(path: Path) -> None:
    """Refuse what is not ODM 1.3 before reading further: DOCTYPE, wrong root, wrong namespace."""
    root = root_of(path)
    tag = root.tag if isinstance(root.tag, str) else ""
    local = tag.split("}")[-1]
    ns = tag[1:].split("}")[0] if tag.startswith("{") else ""
    if local != "ODM":
        raise InputError(f"{path.name}: not a CDISC ODM file: the root element is <{local}>, expected <ODM>")
    if ns != NS:
        raise InputError(f"{path.name}: line {root.sourceline}: <ODM> is in namespace {ns or '(none)'!r}; msc-interop "
                         f"reads ODM 1.3.x, whose namespace is {NS!r}")
    if any("cdisc.org/ns/def/" in (uri or "") for uri in root.nsmap.values()):
        raise InputError(f"{path.name}: this is a Define-XML file (metadata describing SDTM datasets, no "
                         "ClinicalData), not an EDC export; give the SDTM dataset folder instead")


def read_odm(path: str | Path, mapping_path: str | Path | None = None) -> RawRecords:
    """Stream an ODM export into checked study records (same checks and reject report as CSV/XLSX input)."""
    path = Path(path)
    check_size(path)
    check_root(path)
    if mapping_path is None:
        mapping_path = default_mapping_path(path)
        if mapping_path is None:
            raise InputError(f"{path.name}: an ODM export needs a mapping file (--odm-map FILE, or "
                             f"{path.stem}.odm-map.yaml / odm-map.yaml beside it); propose one with "
                             f"`msc-interop odm-map {path.name} > odm-map.yaml` and fill in the marked decisions")
    mapping = load_mapping(mapping_path)
    meta, collector = _stream(path, mapping)
    rejects = RejectReport()
    rejects.notes.extend(_report_tally(path, meta, collector, rejects))
    tables, where, problems = _tables(path, meta, mapping, collector)
    files = {form: path.name for form in tables}

    def first_checks(form: str, df: pd.DataFrame):
        yield from problems.get(form, ())
        yield from _datatype_problems(meta, mapping, form, df)

    records = check_forms(tables, files, mapping.definition, source=str(path), first_checks=first_checks,
                          rejects=rejects)
    records.where = where
    return records


def _stream(path: Path, mapping: OdmMapping) -> tuple[Metadata, ClinicalCollector]:
    meta: Metadata | None = None
    candidates: list[Metadata] = []
    studies: dict[str, Metadata] = {}  # Study OID -> GlobalVariables / units read so far
    collector: ClinicalCollector | None = None
    tags = [q(t) for t in ("GlobalVariables", "BasicDefinitions", "MetaDataVersion", "Location", "SubjectData")]
    for elem in iter_elements(path, tags):
        local = elem.tag.split("}")[-1]
        if local == "SubjectData":
            if collector is None:
                meta = _choose_metadata(path, mapping, candidates)
                check_against_metadata(mapping, meta)
                collector = ClinicalCollector(meta, mapping)
            clinical = elem.getparent()
            if clinical.get("StudyOID") != meta.study_oid or \
                    clinical.get("MetaDataVersionOID", meta.version_oid) != meta.version_oid:
                collector.tally.other_studies += 1
            else:
                collector.add_subject(elem)
            release(elem)
            continue
        study_oid = _study_oid(elem)
        base = studies.setdefault(study_oid, Metadata(study_oid=study_oid))
        if local == "GlobalVariables":
            read_global_variables(elem, base)
        elif local == "BasicDefinitions":
            read_basic_definitions(elem, base)
        elif local == "Location":
            for m in [base, *candidates]:
                read_location(elem, m)
        else:
            m = Metadata(study_oid=study_oid, study_name=base.study_name, protocol_name=base.protocol_name,
                         description=base.description, units=dict(base.units), locations=dict(base.locations))
            read_metadata_version(elem, m)
            candidates.append(m)
        release(elem)
    if collector is None:  # no SubjectData at all: still check the mapping, then report empty forms
        meta = _choose_metadata(path, mapping, candidates)
        check_against_metadata(mapping, meta)
        collector = ClinicalCollector(meta, mapping)
    assert meta is not None
    return meta, collector


def _study_oid(elem: Any) -> str:
    node = elem
    while node is not None and node.tag != q("Study"):
        node = node.getparent()
    return node.get("OID", "") if node is not None else ""


def _choose_metadata(path: Path, mapping: OdmMapping, candidates: list[Metadata]) -> Metadata:
    if not candidates:
        raise InputError(f"{path.name}: no Study/MetaDataVersion before the ClinicalData; msc-interop needs the "
                         "export with its metadata (ItemDefs, CodeLists) to read the values")
    chosen = [m for m in candidates if (not mapping.study_oid or m.study_oid == mapping.study_oid)
              and (not mapping.version_oid or m.version_oid == mapping.version_oid)]
    if len(chosen) != 1:
        found = ", ".join(f"Study {m.study_oid} / MetaDataVersion {m.version_oid}" for m in candidates)
        raise InputError(f"{path.name}: {'no' if not chosen else 'more than one'} MetaDataVersion matches the "
                         f"mapping (study_oid {mapping.study_oid or 'any'}, metadata_version_oid "
                         f"{mapping.version_oid or 'any'}); the export has: {found}")
    return chosen[0]


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
        return meta.units[unit], None
    value = rec.items.get(src.item, "")
    cl_oid = meta.items[src.item].codelist
    if value and cl_oid and src.decode:
        codes = meta.codelists.get(cl_oid)
        if codes is None:
            return value, f"{src.item} refers to CodeList {cl_oid!r}, which the MetaDataVersion does not define"
        if value not in codes:
            return value, (f"{value!r} is not a CodedValue of CodeList {cl_oid} (ItemDef {src.item}); "
                           f"allowed: {', '.join(list(codes)[:12])}")
        return codes[value], None
    return value, None


class OidPaths(dict):
    """(form, line) -> OID path of the record there, formatted only when a reject asks for it; a line that
    holds several records (a file without line breaks) has no path rather than a wrong one."""

    def __contains__(self, key: object) -> bool:
        return dict.get(self, key) is not None

    def __getitem__(self, key: tuple[str, int]) -> str:
        return oid_path(*dict.__getitem__(self, key))

    def add(self, form: str, line: int, subject: str, key: tuple[str, ...]) -> None:
        where = (form, line)
        if dict.__contains__(self, where):
            if dict.__getitem__(self, where) != (subject, key):
                dict.__setitem__(self, where, None)
        else:
            dict.__setitem__(self, where, (subject, key))


def _tables(path: Path, meta: Metadata, mapping: OdmMapping, collector: ClinicalCollector
            ) -> tuple[dict[str, pd.DataFrame], OidPaths, dict[str, list[CellProblem]]]:
    """One text DataFrame per form (with `_row` = line of the ItemGroupData), the OID path of each
    (form, line), and the records' ODM-level problems as CellProblems."""
    rows: dict[str, list[dict[str, str]]] = {g.form: [] for g in mapping.groups}
    lines: dict[str, list[int]] = {form: [] for form in rows}
    paths = OidPaths()
    for subject in list(collector.subjects):
        groups = collector.subjects.pop(subject)  # freed as it becomes rows: the peak holds one copy
        site = collector.sites.get(subject, "")
        for key, rec in groups.items():
            for g in _groups_for(mapping, key):
                row: dict[str, Any] = {}
                problem = None
                if rec.problems:
                    oid, value, reason = rec.problems[0]
                    problem = (_field_of(g, oid), value, reason)
                for name, src in g.fields.items():
                    row[name], why = _resolve(src, rec, subject, site, key, meta, mapping)
                    if why and problem is None:
                        problem = (name, row[name], why)
                row[_PROBLEM] = problem
                rows[g.form].append(row)
                lines[g.form].append(rec.line)
                paths.add(g.form, rec.line, subject, key)
    tables, problems = {}, {}
    for form, form_rows in rows.items():
        fields = list(mappings.schema("records")["$defs"][form]["properties"])
        used = [f for f in fields if any(f in g.fields for g in mapping.groups if g.form == form)]
        df = pd.DataFrame(form_rows, columns=[*used, _PROBLEM]) if form_rows else pd.DataFrame(
            columns=[*used, _PROBLEM])
        flagged = df.pop(_PROBLEM)
        df = df.fillna("")
        df = as_form_frame(df, f"{path.name}[{form}]", rows=pd.Series(lines[form], index=df.index, dtype="int64"))
        tables[form] = df
        problems[form] = _problem_cells(flagged)
    return tables, paths, problems


def _groups_for(mapping: OdmMapping, key: tuple[str, ...]) -> list[GroupMapping]:
    return [g for g in mapping.groups_for(key[4]) if not g.form_oid or g.form_oid == key[2]]


def _field_of(g: GroupMapping, oid: str) -> str:
    return next((name for name, src in g.fields.items() if src.item == oid), oid)


def _problem_cells(flagged: pd.Series) -> list[CellProblem]:
    """Group the per-record ODM problems by field into CellProblems (mask + per-row reason)."""
    out = []
    has = flagged.notna()
    if not has.any():
        return out
    sub = flagged[has]
    by_field: dict[str, list[int]] = {}
    for idx, (name, _value, _reason) in sub.items():
        by_field.setdefault(name, []).append(idx)
    for name, idx in by_field.items():
        mask = pd.Series(False, index=flagged.index)
        mask[idx] = True
        reason = pd.Series("", index=flagged.index, dtype=object)
        reason[idx] = [sub[i][2] for i in idx]
        out.append(CellProblem(name, mask, reason))
    return out


def _datatype_problems(meta: Metadata, mapping: OdmMapping, form: str, df: pd.DataFrame):
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


def _report_tally(path: Path, meta: Metadata, collector: ClinicalCollector, rejects: RejectReport) -> list[str]:
    """Items the mapping does not cover and OIDs the metadata does not define go to the reject report (one line
    per OID with its count and first line); deliberate skips (audit trail, signatures, vendor data) are notes."""
    t = collector.tally
    for ig, n in sorted(t.unmapped_groups.items()):
        rejects.add("odm", path.name, t.first_line[ig], ig, f"{n} ItemData",
                    f"item group {meta.describe(ig)} is not in the mapping: its {n} ItemData were not converted "
                    "(map it under item_groups, or list it under ignore)")
    for (ig, item), n in sorted(t.unmapped_items.items()):
        rejects.add("odm", path.name, t.first_line[(ig, item)], item, f"{n} ItemData",
                    f"item {meta.describe(item)} of {ig} is not used by the mapping: {n} value(s) not converted "
                    "(map it to a field, or list it under ignore)")
    for (kind, oid), n in sorted(t.unknown_oids.items()):
        rejects.add("odm", path.name, t.first_line[(kind, oid)], kind, oid,
                    f"{kind} {oid!r} is not defined in MetaDataVersion {meta.version_oid} ({n} occurrence(s))"
                    + (": its values were not converted" if kind == "ItemOID" else ""))
    notes = [f"{path.name}: ODM {meta.study_oid}/{meta.version_oid}: {len(collector.subjects)} subject(s), "
             f"{t.item_data} ItemData read"]
    if t.skipped:
        notes.append("  skipped on purpose: " + ", ".join(f"{n} {k}" for k, n in sorted(t.skipped.items())))
    if t.removed:
        notes.append("  TransactionType=Remove applied: " + ", ".join(f"{n} {k}" for k, n in sorted(t.removed.items())))
    if t.other_studies:
        notes.append(f"  {t.other_studies} SubjectData of other studies / metadata versions not read")
    return notes


__all__ = ["ROW", "default_mapping_path", "is_odm", "read_odm"]
