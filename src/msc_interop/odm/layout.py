"""The standard ODM layout msc-interop uses when it renders study records as ODM (the bundled example's
export, `synth --odm`), expressed as an ordinary mapping file so the reader needs nothing special for it.

OIDs: SE.<VISIT> per visit of the study definition plus SE.COMMON for subject-level forms (DM, AE);
F.<DOMAIN> / IG.<DOMAIN> per form; IT.<DOMAIN>.<SDTM variable> per item (the field name where the field has
no SDTM variable); SITE.<SITEID> per site. Lab units travel as ItemData/MeasurementUnitRef.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from msc_interop import mappings

_FORM_KEYS = {"subjects": "DM", "exposures": "EX", "adverse_events": "AE", "labs": "LB", "findings": "FINDINGS",
              "vital_signs": "VS", "ecg": "EG", "medical_history": "MH", "medications": "CM", "disposition": "DS"}


def event_oid(visit: str) -> str:
    return "SE." + re.sub(r"[^A-Za-z0-9]", "", visit).upper()


def item_oid(form: str, field: str) -> str:
    sds = mappings.load("odm")["forms"][form]["fields"][field]["sds"]
    return f"IT.{_FORM_KEYS[form]}.{sds[0] if sds and form != 'findings' else field.upper()}"


def standard_mapping(definition: dict[str, Any], study_definition: str | dict[str, Any],
                     fields_present: dict[str, list[str]]) -> dict[str, Any]:
    """The mapping data (as in a mapping YAML file) of the standard layout for the forms and fields present."""
    knowledge = mappings.load("odm")["forms"]
    study_events: dict[str, str | None] = {"SE.COMMON": None}
    study_events.update({event_oid(v["visit"]): v["visit"] for v in definition["visits"]})
    groups = []
    for form, present in fields_present.items():
        key = _FORM_KEYS[form]
        fields: dict[str, Any] = {}
        for name, spec in knowledge[form]["fields"].items():
            if name not in present:
                continue
            if "context" in spec:
                fields[name] = spec["context"]
            elif "unit_of" in spec:
                fields[name] = f"@Unit({item_oid(form, spec['unit_of'])})"
            else:
                fields[name] = item_oid(form, name)
        groups.append({"item_group": f"IG.{key}", "form_oid": f"F.{key}", "form": form, "fields": fields})
    return {
        "odm_mapping": 1,
        "study_oid": f"S.{definition['studyid']}",
        "metadata_version_oid": "MDV.1",
        "study_definition": study_definition,
        "sites": {f"SITE.{s['siteid']}": s["siteid"] for s in definition["sites"]},
        "study_events": study_events,
        "item_groups": groups,
    }


def mapping_yaml(data: dict[str, Any], comments: dict[str, str] | None = None, header: str = "") -> str:
    """The mapping as YAML in a fixed key order, with `comments[key]` written above each top-level key."""
    out = [header.rstrip() + "\n"] if header else []
    for key, value in data.items():
        if comments and key in comments:
            out.append("".join(f"# {line}\n" if line else "#\n" for line in comments[key].splitlines()))
        out.append(yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=110))
    return "".join(out)
