"""The ODM mapping file: which StudyEventOID / FormOID / ItemGroupOID / ItemOID feeds which study-record field.

Checked twice: against its JSON Schema (mappings/schema/odm_map.schema.json) when loaded, and against the
export's MetaDataVersion before any ClinicalData is read, so a typo in an OID stops the run with the OID, where
it is in the mapping file, and the closest OIDs the export defines.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from msc_interop import mappings
from msc_interop.errors import InputError
from msc_interop.odm.metadata import Metadata
from msc_interop.records.definition import check_definition, read_definition

CONTEXTS = ("SubjectKey", "SiteRef", "StudyEvent", "StudyEventRepeatKey", "FormRepeatKey", "ItemGroupRepeatKey")
_UNIT = re.compile(r"^@Unit\((?P<item>[^()]+)\)$")


@dataclass(frozen=True)
class FieldSource:
    """Where one record field comes from: an item (decoded or not), a context value, a unit, or a constant."""

    kind: str  # "item" | "context" | "unit" | "constant"
    item: str = ""
    context: str = ""
    decode: bool = True
    constant: str = ""

    def describe(self) -> str:
        return {"item": self.item, "context": f"@{self.context}", "unit": f"@Unit({self.item})",
                "constant": f"constant {self.constant!r}"}[self.kind]


@dataclass(frozen=True)
class GroupMapping:
    """ItemGroupData of `item_group` (inside `form_oid` if given) -> one record of `form` each."""

    index: int
    item_group: str
    form_oid: str
    form: str
    fields: dict[str, FieldSource]

    @property
    def items(self) -> set[str]:
        return {f.item for f in self.fields.values() if f.item}


@dataclass
class OdmMapping:
    path: Path
    definition: dict[str, Any]
    groups: list[GroupMapping]
    study_oid: str = ""
    version_oid: str = ""
    sites: dict[str, str] = field(default_factory=dict)
    study_events: dict[str, str | None] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()

    def groups_for(self, item_group: str) -> list[GroupMapping]:
        """The mapping entries that read ItemGroupData of `item_group` (looked up once per record: cached)."""
        by_group = self.__dict__.get("_by_group")
        if by_group is None:
            by_group = {}
            for g in self.groups:
                by_group.setdefault(g.item_group, []).append(g)
            self.__dict__["_by_group"] = by_group
        return by_group.get(item_group, [])


def _field_source(spec: Any, where: str) -> FieldSource:
    if isinstance(spec, dict):
        if "constant" in spec:
            return FieldSource("constant", constant=spec["constant"])
        return FieldSource("item", item=spec["item"], decode=spec.get("decode", True))
    if spec.startswith("@"):
        m = _UNIT.match(spec)
        if m:
            return FieldSource("unit", item=m["item"].strip())
        if spec[1:] not in CONTEXTS:
            raise InputError(f"{where}: unknown context {spec!r}; use an ItemOID or one of "
                             f"{', '.join('@' + c for c in CONTEXTS)}, @Unit(ItemOID)")
        return FieldSource("context", context=spec[1:])
    return FieldSource("item", item=spec)


def load_mapping(path: str | Path) -> OdmMapping:
    """Read and schema-check a mapping file; resolve its study definition (a path relative to it, or inline)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such ODM mapping file (propose one with `msc-interop odm-map EXPORT.xml`)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: not a readable YAML mapping file: {exc}") from None
    return parse_mapping(data, path)


def parse_mapping(data: Any, path: Path) -> OdmMapping:
    """Check mapping data (as read from YAML) against its schema and compile it; `path` names it in messages
    and anchors a relative study_definition path."""
    validator = jsonschema.Draft202012Validator(mappings.schema("odm_map"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in errors[:10]]
        raise InputError(f"{path.name}: the ODM mapping does not match its schema "
                         "(mappings/schema/odm_map.schema.json):\n" + "\n".join(lines))
    definition = data["study_definition"]
    if isinstance(definition, str):
        def_path = (path.parent / definition).resolve()
        if not def_path.is_file():
            raise InputError(f"{path.name}: study_definition: {definition} not found (looked for {def_path})")
        definition = read_definition(def_path)
    else:
        definition = check_definition(definition, f"{path.name} (study_definition)")
    required = [f for f, spec in mappings.schema("records")["x-forms"].items() if spec["required"]]
    missing = [f for f in required if f not in {g["form"] for g in data["item_groups"]}]
    if missing:
        raise InputError(f"{path.name}: item_groups: no entry feeds the required form(s) {', '.join(missing)}; "
                         "every study needs its subjects and their exposures (the infusions): map the item "
                         "groups that hold them")
    groups = []
    for i, g in enumerate(data["item_groups"]):
        fields = {name: _field_source(spec, f"{path.name}: item_groups[{i}].fields.{name}")
                  for name, spec in g["fields"].items()}
        groups.append(GroupMapping(i, g["item_group"], g.get("form_oid", ""), g["form"], fields))
    return OdmMapping(path, definition, groups, data.get("study_oid", ""), data.get("metadata_version_oid", ""),
                      dict(data.get("sites") or {}), dict(data.get("study_events") or {}),
                      frozenset(data.get("ignore") or ()))


def _closest(oid: str, known: list[str]) -> str:
    near = difflib.get_close_matches(oid, known, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def check_against_metadata(mapping: OdmMapping, meta: Metadata) -> None:
    """Every OID the mapping names must exist in the export's MetaDataVersion, and each mapped item must be an
    ItemRef of its item group, and every field must be a field of its form."""
    problems: list[str] = []
    records_schema = mappings.schema("records")["$defs"]

    def need(oid: str, table: dict[str, Any], kind: str, where: str) -> bool:
        if oid in table:
            return True
        problems.append(f"  {where}: {kind} {oid!r} is not defined in MetaDataVersion {meta.version_oid}"
                        + _closest(oid, list(table)))
        return False

    for oid in mapping.study_events:
        need(oid, meta.study_events, "StudyEventOID", f"study_events.{oid}")
    for g in mapping.groups:
        where = f"item_groups[{g.index}]"
        has_group = need(g.item_group, meta.item_groups, "ItemGroupOID", f"{where}.item_group")
        if g.form_oid:
            need(g.form_oid, meta.forms, "FormOID", f"{where}.form_oid")
        known_fields = records_schema[g.form]["properties"]
        for name, src in g.fields.items():
            if name not in known_fields:
                problems.append(f"  {where}.fields.{name}: not a field of the '{g.form}' form "
                                f"(fields: {', '.join(known_fields)})")
            if src.item and need(src.item, meta.items, "ItemOID", f"{where}.fields.{name}") and has_group \
                    and src.item not in meta.item_groups[g.item_group].refs:
                problems.append(f"  {where}.fields.{name}: ItemOID {src.item!r} is not an ItemRef of "
                                f"{meta.describe(g.item_group)}")
    if problems:
        raise InputError(f"{mapping.path.name}: the mapping names OIDs the export does not define:\n"
                         + "\n".join(problems))
