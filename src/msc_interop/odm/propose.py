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
from msc_interop.odm.metadata import GroupDef, Metadata, MetadataCollector, merge, q
from msc_interop.odm.reader import check_root
from msc_interop.odm.safe_xml import check_size, iter_elements, release

_DOMAIN_FORMS = {"DM": "subjects", "EX": "exposures", "AE": "adverse_events", "LB": "labs", "VS": "vital_signs",
                 "EG": "ecg", "MH": "medical_history", "CM": "medications", "DS": "disposition"}
_SUBJECT_LEVEL = ("subjects", "adverse_events", "medical_history", "medications", "disposition")


def read_export_metadata(path: Path) -> tuple[Metadata, list[str]]:
    """The first Study's metadata (all its MetaDataVersions merged, with units, global variables, locations),
    read until the first SubjectData; and the version OIDs seen."""
    check_size(path)
    check_root(path)
    found = MetadataCollector()
    tags = [q(t) for t in (*MetadataCollector.TAGS, "SubjectData")]
    for elem in iter_elements(path, tags):
        if elem.tag == q("SubjectData"):
            break
        found.take(elem)
        release(elem)
    if not found.versions:
        raise InputError(f"{path.name}: no MetaDataVersion in the export: nothing to propose a mapping from")
    study = found.versions[0].study_oid
    versions = [m for m in found.versions if m.study_oid == study]
    return (versions[0] if len(versions) == 1 else merge(versions)), [m.version_oid for m in versions]


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
    """The form an item group feeds: by its Domain, else by the items it holds; None if unsure. A Domain
    msc-interop has no form for (VS, CM, ...) is never guessed into one."""
    if group.domain in _DOMAIN_FORMS:
        return _DOMAIN_FORMS[group.domain]
    if group.domain:
        return None
    scores = {}
    for form in mappings.load("odm")["forms"]:
        scores[form] = sum(1 for oid in group.refs if oid in meta.items
                           and _match_field(form, (meta.items[oid].sds_var, meta.items[oid].name)))
    best = max(scores, key=lambda f: scores[f])
    return best if scores[best] >= 2 else None


def propose(path: str | Path) -> str:
    """The proposed mapping file (YAML text) for the export at `path`."""
    path = Path(path)
    meta, versions = read_export_metadata(path)
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
        groups += _propose_group(meta, ig_oid, group, form, unplaced)
    study_events = {}
    for oid in meta.protocol or tuple(meta.study_events):
        se = meta.study_events.get(oid)
        if se is None:
            continue
        forms = {form_of_group.get(ig) for f in se.refs for ig in meta.forms.get(f, GroupDef(f, "", False, ())).refs}
        subject_level = forms and forms <= set(_SUBJECT_LEVEL)
        study_events[oid] = None if subject_level else (se.name or oid)
    sites = {oid: _site_id(oid) for oid in meta.locations}
    clashes = sorted({v for v in sites.values() if list(sites.values()).count(v) > 1})
    for site in clashes:
        unplaced.append(f"sites: {', '.join(o for o, v in sites.items() if v == site)} all became {site!r}; "
                        "give each its own SITEID")
    data: dict[str, Any] = {"odm_mapping": 1, "study_oid": meta.study_oid}
    if len(versions) == 1:
        data["metadata_version_oid"] = versions[0]
    data["study_definition"] = "study.yaml"
    if sites:
        data["sites"] = sites
    data["study_events"] = study_events
    data["item_groups"] = groups
    if unplaced:
        decide += list(dict.fromkeys(unplaced))  # a wide form repeats the same remark per test
    comments = {
        "study_oid": ("" if len(versions) == 1 else
                      f"The study has MetaDataVersions {', '.join(versions)} (CRF amendments): all are read, a later\n"
                      "version's definitions winning; add metadata_version_oid: OID to read one only."),
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
    return mapping_yaml(data, {k: v for k, v in comments.items() if v}, header)


def _propose_group(meta: Metadata, ig_oid: str, group: GroupDef, form: str, unplaced: list[str]
                   ) -> list[dict[str, Any]]:
    """The mapping entries for one item group: usually one; for a wide lab form (one result item per test,
    e.g. LBORRES_WBC, LBORRES_PLT) one entry per test with the test name as a constant."""
    knowledge = mappings.load("odm")["forms"][form]["fields"]
    fields: dict[str, Any] = {}
    taken: set[str] = set()
    results: list[str] = []
    for oid in group.refs:
        item = meta.items.get(oid)
        if item is None:
            continue
        field = _match_field(form, (item.sds_var, item.name))
        if form == "labs" and field == "result":
            results.append(oid)
            taken.add(oid)
        elif field and field not in fields and "context" not in knowledge[field]:
            fields[field] = oid
            taken.add(oid)
    for oid in group.refs:
        if oid not in taken and oid in meta.items:
            unplaced.append(f"{ig_oid}: item {meta.describe(oid)} (SDSVarName {meta.items[oid].sds_var or 'none'}) "
                            "feeds no field; map it or add it to ignore")
    in_forms = [f for f, fd in meta.forms.items() if ig_oid in fd.refs]
    head: dict[str, Any] = {"item_group": ig_oid}
    if len(in_forms) == 1:
        head["form_oid"] = in_forms[0]
    if len(results) <= 1:
        if results:
            fields["result"] = results[0]
        return [{**head, "form": form, "fields": _ordered(meta, form, fields, ig_oid, unplaced)}]
    entries = []
    for oid in results:  # wide layout: the test is in the item, not in the data
        test = _test_name(meta, oid)
        unplaced.append(f"{ig_oid}: wide lab form, test {test!r} proposed for {meta.describe(oid)}: check it")
        per_test = {**{k: v for k, v in fields.items() if k != "test"}, "test": {"constant": test}, "result": oid}
        entries.append({**head, "form": form, "fields": _ordered(meta, form, per_test, ig_oid, unplaced)})
    return entries


def _ordered(meta: Metadata, form: str, fields: dict[str, Any], ig_oid: str, unplaced: list[str]) -> dict[str, Any]:
    """Fields in the form's order, context fields filled in, the unit from the result's MeasurementUnitRefs."""
    knowledge = mappings.load("odm")["forms"][form]["fields"]
    ordered: dict[str, Any] = {}
    for name, spec in knowledge.items():
        if "context" in spec:
            ordered[name] = spec["context"]
        elif name in fields:
            ordered[name] = fields[name]
        elif "unit_of" in spec and isinstance(fields.get(spec["unit_of"]), str) \
                and meta.items[fields[spec["unit_of"]]].units:
            ordered[name] = f"@Unit({fields[spec['unit_of']]})"
    if form == "adverse_events" and "ae_number" not in ordered:
        ordered["ae_number"] = "@ItemGroupRepeatKey"
        unplaced.append(f"{ig_oid}: no AESPID item: ae_number proposed from the ItemGroupRepeatKey; check it")
    for name in mappings.schema("records")["$defs"][form].get("required", []):
        if name not in ordered:
            unplaced.append(f"{ig_oid}: no item recognised for the required field '{name}' of {form}")
    return ordered


def _test_name(meta: Metadata, oid: str) -> str:
    """WBC from an item named LBORRES_WBC (or from its OID's last part)."""
    item = meta.items[oid]
    for text in (item.name, oid):
        m = re.search(r"(?:LBORRES|ORRES|RESULT)[_.-]+([A-Za-z0-9_]+)$", text, flags=re.IGNORECASE)
        if m:
            return m.group(1).upper()
    return item.name or oid


def _site_id(location_oid: str) -> str:
    """SITE.01 -> 01, S_MSC2009_NJ01 -> NJ01: the OID's last part (a SITEID is at most 10 characters)."""
    last = re.split(r"[._:-]", location_oid)[-1] or location_oid
    return re.sub(r"[^A-Za-z0-9_-]", "", last)[-10:]


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
