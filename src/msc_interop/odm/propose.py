"""`msc-interop odm-map EXPORT.xml`: propose a mapping file from an export's own metadata.

What ODM says, the proposal takes: ItemGroupDef/@Domain and ItemDef/@SDSVarName (or @Name) recognise the
form and field of each item (mappings/odm.yaml lists the SDTM variables per field), StudyEventDef names become
visit names, Locations become sites, MeasurementUnitRefs carry lab units. What ODM cannot say is left to a
person and marked `DECIDE` in the YAML: the study definition (protocol days, visit windows, epochs, arms,
time zone), site ids, and any item or item group the proposal could not place.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from msc_interop import mappings
from msc_interop.errors import InputError
from msc_interop.odm.layout import mapping_yaml
from msc_interop.odm.metadata import (
    GroupDef,
    Metadata,
    q,
    read_basic_definitions,
    read_global_variables,
    read_location,
    read_metadata_version,
)
from msc_interop.odm.reader import check_root
from msc_interop.odm.safe_xml import check_size, iter_elements, release

_DOMAIN_FORMS = {"DM": "subjects", "EX": "exposures", "AE": "adverse_events", "LB": "labs"}
_SUBJECT_LEVEL = ("subjects", "adverse_events")


def read_export_metadata(path: Path) -> Metadata:
    """The first Study's MetaDataVersion (with units, global variables, locations); stops at ClinicalData."""
    check_size(path)
    check_root(path)
    meta = Metadata()
    found = False
    tags = [q(t) for t in ("GlobalVariables", "BasicDefinitions", "MetaDataVersion", "Location", "SubjectData")]
    for elem in iter_elements(path, tags):
        local = elem.tag.split("}")[-1]
        if local == "SubjectData":
            break
        if local == "MetaDataVersion":
            if found:
                continue  # the first MetaDataVersion is proposed; the YAML names it
            study = elem.getparent()
            meta.study_oid = study.get("OID", "") if study is not None else ""
            read_metadata_version(elem, meta)
            found = True
        elif local == "GlobalVariables":
            read_global_variables(elem, meta)
        elif local == "BasicDefinitions":
            read_basic_definitions(elem, meta)
        elif local == "Location":
            read_location(elem, meta)
        release(elem)
    if not found:
        raise InputError(f"{path.name}: no MetaDataVersion in the export: nothing to propose a mapping from")
    return meta


def _norm(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _match_field(form: str, names: tuple[str, str]) -> str | None:
    """The field of `form` an item with (SDSVarName, Name) feeds, if recognisable."""
    sds, name = names
    fields = mappings.load("odm")["forms"][form]["fields"]
    for key in (sds, name):
        if not key:
            continue
        for field, spec in fields.items():
            if key.upper() in spec["sds"] or _norm(key) == _norm(field):
                return field
    return None


def _form_of(group: GroupDef, meta: Metadata) -> str | None:
    if group.domain in _DOMAIN_FORMS:
        return _DOMAIN_FORMS[group.domain]
    scores = {}
    for form in mappings.load("odm")["forms"]:
        scores[form] = sum(1 for oid in group.refs if oid in meta.items
                           and _match_field(form, (meta.items[oid].sds_var, meta.items[oid].name)))
    best = max(scores, key=lambda f: scores[f])
    return best if scores[best] >= 2 else None


def propose(path: str | Path) -> str:
    """The proposed mapping file (YAML text) for the export at `path`."""
    path = Path(path)
    meta = read_export_metadata(path)
    decide: list[str] = []
    groups: list[dict[str, Any]] = []
    unplaced: list[str] = []
    form_of_group: dict[str, str] = {}
    for ig_oid, group in meta.item_groups.items():
        form = _form_of(group, meta)
        if form is None:
            unplaced.append(f"item group {meta.describe(ig_oid)} (Domain {group.domain or 'none'}): no form "
                            "recognised; map it by hand or add it to ignore")
            continue
        form_of_group[ig_oid] = form
        groups.append(_propose_group(meta, ig_oid, group, form, unplaced))
    study_events = {}
    for oid in meta.protocol or tuple(meta.study_events):
        se = meta.study_events.get(oid)
        if se is None:
            continue
        forms = {form_of_group.get(ig) for f in se.refs for ig in meta.forms.get(f, GroupDef(f, "", False, ())).refs}
        subject_level = forms and forms <= set(_SUBJECT_LEVEL)
        study_events[oid] = None if subject_level else (se.name or oid)
    sites = {oid: _site_id(oid) for oid in meta.locations}
    data: dict[str, Any] = {"odm_mapping": 1, "study_oid": meta.study_oid, "metadata_version_oid": meta.version_oid,
                            "study_definition": "study.yaml"}
    if sites:
        data["sites"] = sites
    data["study_events"] = study_events
    data["item_groups"] = groups
    if unplaced:
        decide += unplaced
    comments = {
        "study_definition": (
            "DECIDE: the study definition (study.yaml, path relative to this file). ODM has no protocol days,\n"
            "visit windows, epochs, arms or time zone; write them there (README: 'The study definition').\n"
            + _definition_skeleton(meta, study_events)),
        "sites": "DECIDE: each EDC site LocationOID -> the SDTM SITEID (proposed: the OID's last part).",
        "study_events": ("Visits: StudyEventOID -> a visit name (or alias) of the study definition; null for\n"
                         "events holding subject-level forms only (demography, adverse events)."),
        "item_groups": ("Each item group -> one record of a form per ItemGroupData, recognised from\n"
                        "ItemGroupDef/@Domain and ItemDef/@SDSVarName or @Name (mappings/odm.yaml)."
                        + ("".join(f"\nDECIDE: {d}" for d in decide) if decide else "")),
    }
    header = (f"# msc-interop ODM mapping proposed by `msc-interop odm-map {path.name}`\n"
              f"# Export: Study {meta.study_oid} ({meta.study_name or 'no StudyName'}), MetaDataVersion "
              f"{meta.version_oid}. Format: mappings/schema/odm_map.schema.json.\n"
              "# Review every line marked DECIDE, then use it with --odm-map (or save it as odm-map.yaml beside "
              "the export).")
    return mapping_yaml(data, comments, header)


def _propose_group(meta: Metadata, ig_oid: str, group: GroupDef, form: str, unplaced: list[str]) -> dict[str, Any]:
    knowledge = mappings.load("odm")["forms"][form]["fields"]
    fields: dict[str, Any] = {}
    taken: set[str] = set()
    for oid in group.refs:
        item = meta.items.get(oid)
        if item is None:
            continue
        field = _match_field(form, (item.sds_var, item.name))
        if field and field not in fields and "context" not in knowledge[field]:
            fields[field] = oid
            taken.add(oid)
    ordered: dict[str, Any] = {}
    for name, spec in knowledge.items():
        if "context" in spec:
            ordered[name] = spec["context"]
        elif name in fields:
            ordered[name] = fields[name]
        elif "unit_of" in spec and spec["unit_of"] in fields and meta.items[fields[spec["unit_of"]]].units:
            ordered[name] = f"@Unit({fields[spec['unit_of']]})"
    required = mappings.schema("records")["$defs"][form].get("required", [])
    for name in required:
        if name not in ordered:
            unplaced.append(f"{ig_oid}: no item recognised for the required field '{name}' of {form}")
    for oid in group.refs:
        if oid not in taken and oid in meta.items:
            unplaced.append(f"{ig_oid}: item {meta.describe(oid)} (SDSVarName {meta.items[oid].sds_var or 'none'}) "
                            "feeds no field; map it or add it to ignore")
    proposal: dict[str, Any] = {"item_group": ig_oid}
    in_forms = [f for f, fd in meta.forms.items() if ig_oid in fd.refs]
    if len(in_forms) == 1:
        proposal["form_oid"] = in_forms[0]
    return {**proposal, "form": form, "fields": ordered}


def _site_id(location_oid: str) -> str:
    last = location_oid.rsplit(".", 1)[-1]
    return last if re.fullmatch(r"[A-Za-z0-9_-]{1,10}", last) else re.sub(r"[^A-Za-z0-9_-]", "", location_oid)[:10]


def _definition_skeleton(meta: Metadata, study_events: dict[str, str | None]) -> str:
    """A commented study.yaml starting point from GlobalVariables and the visit events."""
    lines = ["Starting point for study.yaml from the export:",
             f"  studyid: {meta.study_name or meta.study_oid}",
             f"  title: {meta.description or '...'}",
             f"  protocol: {meta.protocol_name or '...'}",
             "  timezone: ...            # DECIDE: IANA zone of the collected times, e.g. Asia/Shanghai",
             "  sites: [{siteid: ..., country: ...}]",
             "  arms: [{armcd: ..., arm: ...}]",
             "  visits:"]
    for i, visit in enumerate([v for v in study_events.values() if v], start=1):
        lines.append(f"  - {{visitnum: {i}, visit: {visit}, protocol_day: ..., epoch: ...}}   # DECIDE day/epoch")
    return "\n".join(lines)
