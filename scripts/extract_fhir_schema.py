#!/usr/bin/env python3
"""Extract the part of the official FHIR JSON Schema that msc-interop validates its output against.

Input: the official `fhir.schema.json` of an HL7 core package (hl7.fhir.r4b.core 4.3.0 or hl7.fhir.r5.core
5.0.0). Output: `mappings/fhir_schema_<R4B|R5>.json`, shipped in the wheel (users have no ../shared).

What the subset is, exactly:
  * the definitions reachable from the resource types msc-interop writes or reads as containers (ROOTS), with
    `ResourceList` (what `contained` and `Bundle.entry.resource` may hold) cut down to those types;
  * descriptions dropped (they do not take part in validation);
  * the R5 schema's one broken regular expression (`[0-9]{1,9}}` in the decimal patterns, a stray "}") mended;
  * R4B only: elements of FHIR type `id` that the R4B schema refers to `string` (Resource.id) refer to `id`
    (the FHIR datatype and the models say so; the R5 schema already does);
  * rules the fhir.resources models enforce and the official schema does not, added from the models'
    own metadata as standard JSON Schema keywords, so that a JSON Schema validator gives the models' verdict:
      - dates must be calendar dates (the schema's own words: "Dates SHALL be valid dates"): an extra
        pattern on date, dateTime and instant refusing 30 February, 31 April, 29 February of common years;
      - a required primitive element (e.g. Observation.status) must be present as value or `_element`:
        {"anyOf": [{"required": ["status"]}, {"required": ["_status"]}]} (Extension.url: "required");
      - at most one element of a choice group (value[x], effective[x]...), and one when the group is
        required: "dependencies" / "anyOf" on the group's JSON names.
    Both only look at which keys an object has.
Nothing else changes: every other keyword is copied as published. Re-running on the same package and the same
fhir.resources version gives a byte-identical file (sorted keys).

Usage (from the repository root):
    python scripts/extract_fhir_schema.py --schema ../shared/external/fhir-schema/R4B-4.3.0/fhir.schema.json \\
        --version R4B --out mappings/fhir_schema_R4B.json
    python scripts/extract_fhir_schema.py --schema ../shared/external/fhir-schema/R5-5.0.0/fhir.schema.json \\
        --version R5 --out mappings/fhir_schema_R5.json
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

ROOTS = ("Bundle", "ResearchStudy", "ResearchSubject", "Patient", "Encounter", "Observation", "AdverseEvent",
         "MedicationAdministration", "Organization", "Specimen", "Medication", "Condition",
         "Procedure", "MedicationStatement")
PACKAGES = {"R4B": "fhir.resources.R4B", "R5": "fhir.resources"}
# "Dates SHALL be valid dates" (the schema's own description of date, dateTime, instant), which the models
# check and the published patterns do not: no 30/31 February, no 31st of a 30-day month, 29 February only in
# leap years (divisible by 4, centuries only when divisible by 400).
LEAP = r"(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)"
CALENDAR = r"^(?!\d{4}-(02-3[01]|(0[469]|11)-31))(?!(?!" + LEAP + r")\d{4}-02-29)"
DATE_TYPES = ("date", "dateTime", "instant")
BROKEN = "[0-9]{1,9}})?"
MENDED = "[0-9]{1,9})?"


def model_class(package: str, definition: str) -> type | None:
    """The fhir.resources model of a schema definition ("Observation_ReferenceRange" -> ObservationReferenceRange
    in module observation; "Quantity" -> quantity.Quantity), or None (primitives, ResourceList)."""
    from fhir_core.fhirabstractmodel import FHIRAbstractModel

    module_name = definition.split("_", 1)[0].lower()
    try:
        mod = importlib.import_module(f"{package}.{module_name}")
    except ImportError:
        return None
    cls = getattr(mod, definition.replace("_", ""), None)
    return cls if inspect.isclass(cls) and issubclass(cls, FHIRAbstractModel) else None


def model_rules(cls: type) -> dict[str, Any]:
    """Required primitive elements and choice groups of a model, by JSON name."""
    required: list[str] = []
    groups: dict[str, list[str]] = {}
    group_required: dict[str, bool] = {}
    fields = cls.model_fields
    for name, f in fields.items():
        extra = f.json_schema_extra or {}
        json_name = f.alias or name
        if extra.get("element_required"):
            required.append(json_name if f"{name}__ext" in fields else "!" + json_name)
        if "one_of_many" in extra:
            groups.setdefault(extra["one_of_many"], []).append(json_name)
            group_required[extra["one_of_many"]] = bool(extra.get("one_of_many_required"))
    ids = sorted(f.alias or n for n, f in fields.items() if "Id()" in repr(f.annotation))
    return {"required": sorted(required), "groups": {g: sorted(v) for g, v in sorted(groups.items())},
            "group_required": dict(sorted(group_required.items())), "ids": ids}


def retype_ids(definition: dict[str, Any], ids: list[str]) -> int:
    """Elements of FHIR type `id` that the schema types as `string` (R4B Resource.id): give them `id`.

    The FHIR specification and the models say Resource.id is an `id` ([A-Za-z0-9-.]{1,64}); the R4B JSON
    Schema refers those elements to `string`. The R5 schema already uses `id`.
    """
    n = 0
    for name in ids:
        prop = definition.get("properties", {}).get(name)
        if prop == {"$ref": "#/definitions/string"}:
            definition["properties"][name] = {"$ref": "#/definitions/id"}
            n += 1
    return n


def constraints(rules: dict[str, Any], properties: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in rules["required"]:
        if p.startswith("!"):  # required and not a primitive with a `_name` twin (Extension.url)
            out.append({"required": [p[1:]]})
        else:
            out.append({"anyOf": [{"required": [p]}, {"required": ["_" + p]}]})
    for group, names in rules["groups"].items():
        names = [n for n in names if n in properties]
        if len(names) > 1:
            # "if n is present, no other name of the group is": k small subschemas, not k*k
            deps = {n: {"propertyNames": {"not": {"enum": [o for o in names if o != n]}}} for n in names}
            out.append({"dependencies": deps})
        if rules["group_required"].get(group) and names:
            alts = [{"required": [n]} for n in names]
            alts += [{"required": ["_" + n]} for n in names if "_" + n in properties]
            out.append({"anyOf": alts})
    return out


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/definitions/"):
            found.add(r.split("/")[-1])
        for v in node.values():
            found |= refs(v)
    elif isinstance(node, list):
        for v in node:
            found |= refs(v)
    return found


def strip(node: Any) -> Any:
    if isinstance(node, dict):
        # "description" annotations are strings; a property named "description" is a dict: keep that one
        return {k: strip(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [strip(v) for v in node]
    if isinstance(node, str) and BROKEN in node:
        return node.replace(BROKEN, MENDED)
    return node


def extract(schema: dict[str, Any], version: str) -> dict[str, Any]:
    defs = schema["definitions"]
    missing = [r for r in ROOTS if r not in defs]
    if missing:
        raise SystemExit(f"the schema has no definitions for {missing}")
    resource_list = {"oneOf": [{"$ref": f"#/definitions/{r}"} for r in ROOTS]}
    keep: dict[str, Any] = {"ResourceList": resource_list}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = defs[name]
        todo += [r for r in refs(defs[name]) if r not in keep]
    out_defs: dict[str, Any] = {}
    mended = retyped = 0
    for name in sorted(keep):
        d = strip(keep[name])
        mended += json.dumps(keep[name]).count(BROKEN)
        cls = model_class(PACKAGES[version], name)
        if cls is not None and "properties" in d:
            rules = model_rules(cls)
            retyped += retype_ids(d, rules["ids"])
            extra = constraints(rules, d["properties"])
            if extra:
                d["allOf"] = extra
        if name in DATE_TYPES:
            d["allOf"] = [{"pattern": CALENDAR}]
        out_defs[name] = d
    return {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "id": schema.get("id", ""),
        "x-msc-interop": {
            "source": f"official FHIR JSON Schema {schema.get('id', '')}",
            "roots": list(ROOTS),
            "mended_patterns": mended,
            "ids_retyped": retyped,
            "model_rules_from": f"{PACKAGES[version]} (fhir.resources {_fhir_resources_version()})",
        },
        "definitions": out_defs,
    }


def _fhir_resources_version() -> str:
    import fhir.resources

    return str(fhir.resources.__version__)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schema", required=True, type=Path, help="official fhir.schema.json")
    ap.add_argument("--version", required=True, choices=sorted(PACKAGES))
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    out = extract(schema, args.version)
    args.out.write_text(json.dumps(out, sort_keys=True, indent=None, separators=(",", ":")) + "\n",
                        encoding="utf-8")
    print(f"wrote {args.out}: {len(out['definitions'])} definitions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
