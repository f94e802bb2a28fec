"""Render study records as a CDISC ODM 1.3.2 Snapshot export, laid out by an ODM mapping file (used in reverse).

Why it exists: the bundled example study ships as the ODM export an EDC would produce, and the benchmark needs
exports of any size. Because the layout comes from the same mapping file the reader uses, reading the export
back gives the records it was made from. Item metadata (DataType, SDSVarName, CodeLists with the CDISC
submission value as CodedValue and the record's text as Decode) comes from mappings/odm.yaml.
Written with lxml's incremental writer: memory stays flat in the number of records.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from msc_interop import mappings
from msc_interop.atomic import atomic_open
from msc_interop.odm.mapping import FieldSource, OdmMapping
from msc_interop.odm.metadata import NS
from msc_interop.sdtm.common import codelist_lookup

_REPEATING_FORMS = ("adverse_events", "labs", "findings", "vital_signs", "ecg", "medical_history", "medications")


def _el(tag: str, attrib: dict[str, str] | None = None, text: str | None = None) -> etree._Element:
    e = etree.Element(f"{{{NS}}}{tag}", {k: v for k, v in (attrib or {}).items() if v not in (None, "")},
                      nsmap={None: NS})
    if text is not None:
        e.text = text
    return e


def _sub(parent: etree._Element, tag: str, attrib: dict[str, str] | None = None,
         text: str | None = None) -> etree._Element:
    e = etree.SubElement(parent, f"{{{NS}}}{tag}", {k: v for k, v in (attrib or {}).items() if v not in (None, "")})
    if text is not None:
        e.text = text
    return e


def _translated(parent: etree._Element, tag: str, text: str) -> None:
    _sub(_sub(parent, tag), "TranslatedText", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}, text)


class _Layout:
    """The mapping read backwards: which event / form / item group / item each record field goes to."""

    def __init__(self, mapping: OdmMapping, definition: dict[str, Any]) -> None:
        self.mapping = mapping
        knowledge = mappings.load("odm")["forms"]
        self.field_info = {form: spec["fields"] for form, spec in knowledge.items()}
        self.domains = {form: spec["domain"] for form, spec in knowledge.items()}
        canonical = {}
        for v in definition["visits"]:
            for name in (v["visit"], *v.get("aliases", [])):
                canonical[name.strip().upper()] = v["visit"]
        self.visit_of_text = canonical
        self.event_of_visit = {visit: oid for oid, visit in mapping.study_events.items() if visit}
        self.home_event = next((oid for oid, visit in mapping.study_events.items() if visit is None), "SE.COMMON")
        self.site_oid = {site: oid for oid, site in mapping.sites.items()}
        self.visit_names = {oid: visit for oid, visit in mapping.study_events.items() if visit}

    def event_for(self, visit_text: pd.Series) -> pd.Series:
        canonical = visit_text.str.strip().str.upper().map(self.visit_of_text)
        return canonical.map(self.event_of_visit)


def _codes(codelist: str, values: list[str]) -> dict[str, str]:
    """Record text -> CodedValue: the CDISC submission value where the text is a term or synonym, else itself."""
    lookup = codelist_lookup(codelist)
    out, used = {}, set()
    for v in values:
        code = lookup.get(v.strip().upper(), v) if isinstance(lookup, dict) else v
        if code in used:
            code = v
        out[v] = code
        used.add(code)
    return out


def write_odm(tables: dict[str, pd.DataFrame], definition: dict[str, Any], mapping: OdmMapping, path: str | Path,
              created: str = "2026-01-01T00:00:00") -> Path:
    """Write the record `tables` (text DataFrames per form) as one ODM 1.3.2 Snapshot file at `path`."""
    path = Path(path)
    layout = _Layout(mapping, definition)
    records = _records(tables, layout)
    units = _units(tables, mapping)
    codelists = _codelists(tables, mapping, layout)
    metadata = _metadata(tables, definition, mapping, layout, records, units, codelists)
    with atomic_open(path, "wb") as fh, etree.xmlfile(fh, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{NS}}}ODM", {"FileType": "Snapshot", "FileOID": f"MSC-INTEROP.{definition['studyid']}",
                                          "CreationDateTime": created, "ODMVersion": "1.3.2",
                                          "Granularity": "All"}, nsmap={None: NS}):
            for top in metadata:
                if top is not None:
                    _write_indented(xf, top, level=1)
            xf.write("\n  ")
            with xf.element(f"{{{NS}}}ClinicalData", {"StudyOID": mapping.study_oid,
                                                      "MetaDataVersionOID": mapping.version_oid}):
                for subject_el in _subjects(records, mapping, layout, _item_codes(mapping, layout, codelists), units):
                    _write_indented(xf, subject_el, level=2)
                xf.write("\n  ")
            xf.write("\n")
    return path


def _write_indented(xf: Any, elem: etree._Element, level: int) -> None:
    """One element per line group, indented like a pretty-printed file, so error messages' line numbers help."""
    etree.indent(elem, space="  ", level=level)
    xf.write("\n" + "  " * level)
    xf.write(elem)


def _records(tables: dict[str, pd.DataFrame], layout: _Layout) -> pd.DataFrame:
    """One row per item group record: subject, event, form, group, repeat key, and its items as a list."""
    parts = []
    for g in layout.mapping.groups:
        df = tables.get(g.form)
        if df is None or df.empty:
            continue
        df = df.reset_index(drop=True)
        if "visit" in g.fields and "visit" in df.columns:
            event = layout.event_for(df["visit"])
            if event.isna().any():
                bad = df.loc[event.isna(), "visit"].unique().tolist()
                raise ValueError(f"{g.form}: visit(s) {bad} have no StudyEvent in the mapping's study_events")
        else:
            event = pd.Series(layout.home_event, index=df.index)
        item_cols = [(name, src) for name, src in g.fields.items() if src.kind == "item" and name in df.columns]
        unit_cols = {src.item: name for name, src in g.fields.items() if src.kind == "unit" and name in df.columns}
        parts.append(pd.DataFrame({
            "subject": df["subject_id"], "site": df["site_id"] if "site_id" in df.columns else "",
            "event": event, "form_oid": g.form_oid or f"F.{g.item_group.split('.', 1)[-1]}",
            "group": g.item_group, "order": df.index, "mapping": g.index,
            "items": _item_lists(df, item_cols, unit_cols),
        }))
    out = pd.concat(parts, ignore_index=True)
    return out


def _item_lists(df: pd.DataFrame, item_cols: list[tuple[str, FieldSource]], unit_cols: dict[str, str]) -> list:
    """Per record: [(ItemOID, value, unit text)] for the non-empty values, in mapping order."""
    cols = [df[name].tolist() for name, _ in item_cols]
    units = [df[unit_cols[src.item]].tolist() if src.item in unit_cols else None for _, src in item_cols]
    oids = [src.item for _, src in item_cols]
    out = []
    for i in range(len(df)):
        row = []
        for oid, col, ucol in zip(oids, cols, units, strict=True):
            value = col[i]
            if value != "":
                row.append((oid, value, ucol[i] if ucol is not None else ""))
            elif ucol is not None and ucol[i] != "":
                raise ValueError(f"record {i + 2}: a unit ({ucol[i]!r}) without a value cannot be exported as ODM")
        out.append(row)
    return out


def _metadata(tables: dict[str, pd.DataFrame], definition: dict[str, Any], mapping: OdmMapping, layout: _Layout,
              records: pd.DataFrame, units: dict[str, str], codelists: dict[str, dict[str, str]]
              ) -> tuple[etree._Element, etree._Element | None]:
    """The Study element (GlobalVariables, BasicDefinitions, MetaDataVersion) and AdminData (Locations)."""
    study = _el("Study", {"OID": mapping.study_oid})
    gv = _sub(study, "GlobalVariables")
    _sub(gv, "StudyName", text=definition["studyid"])
    _sub(gv, "StudyDescription", text=definition["title"])
    _sub(gv, "ProtocolName", text=definition.get("protocol", definition["studyid"]))
    if units:
        bd = _sub(study, "BasicDefinitions")
        for symbol, oid in units.items():
            _translated(_sub(bd, "MeasurementUnit", {"OID": oid, "Name": symbol}), "Symbol", symbol)
    mdv = _sub(study, "MetaDataVersion", {"OID": mapping.version_oid, "Name": f"{definition['studyid']} CRF v1"})
    events = [oid for oid in mapping.study_events if oid in set(records["event"])]
    protocol = _sub(mdv, "Protocol")
    for oid in events:
        _sub(protocol, "StudyEventRef", {"StudyEventOID": oid, "Mandatory": "No"})
    forms_in_event: dict[str, list[str]] = defaultdict(list)
    for (event, form_oid), _ in records.groupby(["event", "form_oid"], sort=False):
        forms_in_event[event].append(form_oid)
    for oid in events:
        name = mapping.study_events[oid] or "Subject-level forms"
        se = _sub(mdv, "StudyEventDef", {"OID": oid, "Name": name, "Repeating": "No",
                                         "Type": "Scheduled" if mapping.study_events[oid] else "Common"})
        for form_oid in sorted(set(forms_in_event[oid]), key=forms_in_event[oid].index):
            _sub(se, "FormRef", {"FormOID": form_oid, "Mandatory": "No"})
    groups = {g.item_group: g for g in mapping.groups}
    counts = records.groupby(["subject", "event", "group"]).size()
    for g in mapping.groups:
        form_oid = g.form_oid or f"F.{g.item_group.split('.', 1)[-1]}"
        fd = _sub(mdv, "FormDef", {"OID": form_oid, "Name": g.form.replace("_", " ").title(), "Repeating": "No"})
        _sub(fd, "ItemGroupRef", {"ItemGroupOID": g.item_group, "Mandatory": "Yes"})
    item_defs = []
    for g in groups.values():
        repeating = g.form in _REPEATING_FORMS or bool((counts.xs(g.item_group, level="group") > 1).any()
                                                       if g.item_group in counts.index.get_level_values("group")
                                                       else False)
        igd = _sub(mdv, "ItemGroupDef", {"OID": g.item_group, "Name": g.form.replace("_", " "),
                                         "Repeating": "Yes" if repeating else "No",
                                         "Domain": layout.domains.get(g.form, "")})
        for order, (name, src) in enumerate([(n, s) for n, s in g.fields.items() if s.kind == "item"], start=1):
            _sub(igd, "ItemRef", {"ItemOID": src.item, "OrderNumber": str(order), "Mandatory": "No"})
            item_defs.append((g, name, src))
    for g, name, src in item_defs:
        info = layout.field_info[g.form].get(name, {})
        sds = (info.get("sds") or [""])[0]
        idef = _sub(mdv, "ItemDef", {"OID": src.item, "Name": sds or name.upper(),
                                     "DataType": info.get("datatype", "text"), "SDSVarName": sds})
        _translated(idef, "Question", name.replace("_", " "))
        unit_field = next((n for n, s in g.fields.items() if s.kind == "unit" and s.item == src.item), None)
        if unit_field and g.form in tables and unit_field in tables[g.form].columns:
            for symbol in _distinct(tables[g.form][unit_field]):
                _sub(idef, "MeasurementUnitRef", {"MeasurementUnitOID": units[symbol]})
        if f"CL.{info.get('codelist')}" in codelists:
            _sub(idef, "CodeListRef", {"CodeListOID": f"CL.{info['codelist']}"})
    for cl_oid, codes in codelists.items():
        cl = _sub(mdv, "CodeList", {"OID": cl_oid, "Name": cl_oid[3:], "DataType": "text"})
        for text, code in codes.items():
            _translated(_sub(cl, "CodeListItem", {"CodedValue": code}), "Decode", text)
    admin = None
    if layout.site_oid:
        admin = _el("AdminData", {"StudyOID": mapping.study_oid})
        first = sorted(v for v in tables["subjects"].get("consent_date", pd.Series(dtype=str)) if v) or ["2000-01-01"]
        names = {s["siteid"]: s.get("name", s["siteid"]) for s in definition["sites"]}
        for site, oid in layout.site_oid.items():
            loc = _sub(admin, "Location", {"OID": oid, "Name": names.get(site, site), "LocationType": "Site"})
            _sub(loc, "MetaDataVersionRef", {"StudyOID": mapping.study_oid, "MetaDataVersionOID": mapping.version_oid,
                                             "EffectiveDate": first[0][:10]})
    return study, admin


def _codelists(tables: dict[str, pd.DataFrame], mapping: OdmMapping, layout: _Layout) -> dict[str, dict[str, str]]:
    """CodeList OID -> {record text: CodedValue} for the coded fields that have values."""
    out: dict[str, dict[str, str]] = {}
    for g in mapping.groups:
        for name, src in g.fields.items():
            cl = layout.field_info[g.form].get(name, {}).get("codelist")
            if src.kind == "item" and cl and g.form in tables and name in tables[g.form].columns:
                values = _distinct(tables[g.form][name])
                if values:
                    out.setdefault(f"CL.{cl}", {}).update(_codes(cl, values))
    return out


def _item_codes(mapping: OdmMapping, layout: _Layout, codelists: dict[str, dict[str, str]]
                ) -> dict[str, dict[str, str]]:
    """ItemOID -> {record text: CodedValue} for coded items."""
    out = {}
    for g in mapping.groups:
        for name, src in g.fields.items():
            cl = layout.field_info[g.form].get(name, {}).get("codelist")
            if src.kind == "item" and f"CL.{cl}" in codelists:
                out[src.item] = codelists[f"CL.{cl}"]
    return out


def _distinct(s: pd.Series) -> list[str]:
    return sorted({v for v in s.tolist() if v != ""})


def _units(tables: dict[str, pd.DataFrame], mapping: OdmMapping) -> dict[str, str]:
    """MeasurementUnit OIDs: the units of each item group in the mapping's order, sorted within it, so that a form
    added later (vital signs after labs) does not renumber the units already there."""
    order: list[str] = []
    for g in mapping.groups:
        for name, src in g.fields.items():
            if src.kind == "unit" and g.form in tables and name in tables[g.form].columns:
                order += [s for s in sorted(set(_distinct(tables[g.form][name]))) if s not in order]
    return {s: f"MU.{i}" for i, s in enumerate(order, start=1)}


def _subjects(records: pd.DataFrame, mapping: OdmMapping, layout: _Layout, item_codes: dict[str, dict[str, str]],
              units: dict[str, str]):
    """SubjectData elements in subject order, events in protocol order, records in their input order."""
    event_rank = {oid: i for i, oid in enumerate(mapping.study_events)}
    subject_order = {s: i for i, s in enumerate(pd.unique(records["subject"]))}
    records = records.assign(_s=records["subject"].map(subject_order), _e=records["event"].map(event_rank))
    records = records.sort_values(["_s", "_e", "mapping", "order"], kind="stable")
    sites = records.loc[records["site"] != "", ["subject", "site"]].drop_duplicates("subject")
    site_of = dict(zip(sites["subject"], sites["site"], strict=True))
    block = ["_s", "_e", "form_oid", "group"]
    size = records.groupby(block, sort=False)["order"].transform("size")
    repeating = _repeating_groups(mapping)
    sd = se = fd = None
    last: tuple = (None, None, None)
    rk = 0
    # one pass over the sorted records (no per-subject DataFrame work): open a new SubjectData / StudyEventData /
    # FormData whenever its key changes
    for subject, event, form_oid, group, n, items in zip(records["subject"], records["event"], records["form_oid"],
                                                         records["group"], size, records["items"], strict=True):
        if subject != last[0]:
            if sd is not None:
                yield sd
            sd = _el("SubjectData", {"SubjectKey": subject})
            site = site_of.get(subject)
            if site:
                _sub(sd, "SiteRef", {"LocationOID": layout.site_oid.get(site, site)})
            last = (subject, None, None)
        if event != last[1]:
            se = _sub(sd, "StudyEventData", {"StudyEventOID": event})
            last = (subject, event, None)
        if (form_oid, group) != last[2]:
            fd = _sub(se, "FormData", {"FormOID": form_oid})
            last = (subject, event, (form_oid, group))
            rk = 0
        rk += 1
        ig = _sub(fd, "ItemGroupData", {"ItemGroupOID": group,
                                        "ItemGroupRepeatKey": str(rk) if n > 1 or group in repeating else ""})
        for oid, value, unit in items:
            value = item_codes.get(oid, {}).get(value, value)
            it = _sub(ig, "ItemData", {"ItemOID": oid, "Value": value})
            if unit:
                _sub(it, "MeasurementUnitRef", {"MeasurementUnitOID": units[unit]})
    if sd is not None:
        yield sd


def _repeating_groups(mapping: OdmMapping) -> set[str]:
    return {g.item_group for g in mapping.groups if g.form in _REPEATING_FORMS}


def records_tables(folder: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The raw text tables and study definition of a CSV records folder (no checks: the reader checks)."""
    from msc_interop.records.definition import find_definition, read_definition
    from msc_interop.records.reader import _read_csv_folder

    folder = Path(folder)
    tables, _files = _read_csv_folder(folder)
    return {k: v.drop(columns="_row") for k, v in tables.items()}, read_definition(find_definition(folder))


def export_study(records_folder: str | Path, out_xml: str | Path, mapping_out: str | Path | None = None,
                 created: str = "2026-01-01T00:00:00") -> tuple[Path, Path]:
    """Render a CSV records folder as an ODM export in the standard layout (layout.py), and write the mapping
    that reads it back (default: odm-map.yaml beside the export). Returns (export path, mapping path)."""
    import os

    from msc_interop.atomic import write_bytes_atomic
    from msc_interop.odm.layout import mapping_yaml, standard_mapping
    from msc_interop.odm.mapping import parse_mapping

    records_folder, out_xml = Path(records_folder), Path(out_xml)
    mapping_out = Path(mapping_out) if mapping_out else out_xml.with_name("odm-map.yaml")
    tables, definition = records_tables(records_folder)
    present = {form: [*df.columns] for form, df in tables.items()}
    definition_ref = Path(os.path.relpath(records_folder.resolve() / "study.yaml", mapping_out.resolve().parent))
    data = standard_mapping(definition, definition_ref.as_posix(), present)
    header = (f"# msc-interop ODM mapping for {out_xml.name} (standard layout, written by msc-interop).\n"
              "# Format: mappings/schema/odm_map.schema.json.")
    write_bytes_atomic(mapping_out, mapping_yaml(data, header=header).encode("utf-8"))
    write_odm(tables, definition, parse_mapping(data, mapping_out), out_xml, created=created)
    return out_xml, mapping_out


__all__ = ["export_study", "records_tables", "write_odm"]
