"""Lab panels whose results are components (a urinalysis Observation with component[] each coded with its LOINC and
a value): one LB record per component, with the panel's subject, date, specimen, performer and category.

FHIR R4 Observation says a panel's results are separate Observations (hasMember) and components are for values
that are never alone (the two pressures of a blood pressure); hospitals still send lab panels as components.
hasMember needs nothing here: its members are Observations of the input, read as any other. A component is read
as an Observation of its own (its code, value[x], dataAbsentReason, interpretation, referenceRange): mapped
through lab_tests.yaml as a lone result would be, a test the mapping does not know carried or (--strict)
rejected the same way. The panel is one resource: converted when any component gives a record (the others then
listed, "converted without component ..."), rejected when none does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from msc_interop import vital_signs
from msc_interop.fhir import terms
from msc_interop.fhir.io import Located
from msc_interop.fhir.systems import read_system

_OWN = ("code", "interpretation", "referenceRange", "dataAbsentReason")  # what a component has of its own
_PANEL_ONLY = frozenset(("component", "hasMember", *_OWN))
_FIELDS = ("Observation.code", "Observation.value", "Observation.interpretation", "Observation.referenceRange",
           "Observation.dataAbsentReason")


class Panel(tuple):
    """A lab panel's components (the dicts, as the vital-sign reader reads them), with `parts`: the flat record of
    each component as an Observation of its own."""

    parts: tuple = ()


def panel_components(flattener: Any, res: dict[str, Any], in_bundle: bool) -> Any:
    """Observation.component as the flat record keeps it: a Panel when the Observation is a lab panel (no value
    of its own, components with a code, not a vital sign), else the components as they are."""
    comps = res.get("component")
    if not isinstance(comps, list) or not comps or _has_value(res):
        return comps
    own = [c for c in comps if isinstance(c, dict) and isinstance(c.get("code"), dict)]
    if not own or not _lab_panel_kind(res, own):
        return comps
    shared = {k: v for k, v in res.items() if k not in _PANEL_ONLY and not k.startswith("value")}
    panel = Panel(comps)
    panel.parts = tuple(flattener.flatten({**shared, **{k: c[k] for k in c if k in _OWN or k.startswith("value")}},
                                          in_bundle) for c in own)
    return panel


def expand_panels(flat_obs: list[tuple]) -> tuple[list[tuple], list[tuple[Located, list[Located]]]]:
    """The flat records with each lab panel's replaced by its components' (each with a Located of its own at the
    panel's place, so that what is rejected is told apart), and the panels with their components' Located."""
    if not any(isinstance(t[-4], Panel) for t in flat_obs):
        return flat_obs, []
    out: list[tuple] = []
    panels: list[tuple[Located, list[Located]]] = []
    for held in flat_obs:
        comps = held[-4]  # FLAT_COLUMNS "components" (then effective_el, problem and the Located)
        if not isinstance(comps, Panel) or not comps.parts:
            out.append(held)
            continue
        loc = held[-1]
        locs = [replace(loc) for _ in comps.parts]
        out += [(*part, at) for part, at in zip(comps.parts, locs, strict=True)]
        panels.append((loc, locs))
    return out, panels


def settle_panels(r: Any, panels: list[tuple[Located, list[Located]]]) -> None:
    """Each panel counted as one Observation: converted when a component gave a record, its other components'
    lines then saying "converted without one of its components"; else rejected, its lines as they are (each said
    once). The report's lines are grouped by place once (a resource is one entry or line)."""
    if not panels:
        return
    report = r.report
    places = {(loc.file, int(loc.position)) for loc, _ in panels}
    lines: dict[tuple[str, int], list[Any]] = {}
    rest = []
    for x in report.rejects:
        if x.form == "Observation" and (x.file, x.row) in places:
            lines.setdefault((x.file, x.row), []).append(x)
        else:
            rest.append(x)
    for loc, locs in panels:
        placed = sum(id(x) not in r.rejected_ids for x in locs)
        r.converted["Observation"] -= max(placed - 1, 0)
        place = (loc.file, int(loc.position))
        mine = lines.pop(place, [])
        if placed and mine:
            mine = [x if "converted without" in x.reason else replace(x, reason=_without(x.reason)) for x in mine]
            report.incomplete.setdefault("Observation", set()).add(place)
        elif not placed:
            r.rejected_ids.add(id(loc))
        rest += dict.fromkeys(replace(x, field=_component_field(x.field)) for x in mine)
    report.rejects = rest


def _component_field(field: str) -> str:
    return field.replace("Observation.", "Observation.component.", 1) if field.startswith(_FIELDS) else field


def _without(reason: str) -> str:
    """A component's reject reason as a line of the converted panel."""
    where, sep, why = reason.partition(": ")
    if not where.startswith("Bundle entry"):
        where, sep, why = "", "", reason
    return f"{where}{sep}converted without one of its components: {why}"


def _has_value(res: dict[str, Any]) -> bool:
    return "dataAbsentReason" in res or any(k.startswith("value") for k in res)


def _lab_panel_kind(res: dict[str, Any], own: list[dict[str, Any]]) -> bool:
    """Category laboratory, or no observation-category at all, and neither the code nor a component a vital sign
    (those are the vital-sign reader's: a blood pressure's components). Systems compared as read_system reads them
    (a known non-canonical URI as its code system; the flattener tallies the ones met)."""
    system = terms.system(terms.fixed("lab_category")["system"])
    codes = [c.get("code") for cat in res.get("category") or () if isinstance(cat, dict)
             for c in cat.get("coding") or () if isinstance(c, dict) and _is(c.get("system"), system)]
    if codes and terms.fixed("lab_category")["code"] not in codes:
        return False
    loinc, known = terms.system("loinc"), vital_signs.loinc_index()
    return not any(isinstance(c, dict) and isinstance(c.get("code"), str) and (
        c["code"] in known or c["code"] in vital_signs.panels()) and _is(c.get("system"), loinc)
                   for cc in (res.get("code"), *(x["code"] for x in own)) if isinstance(cc, dict)
                   for c in cc.get("coding") or ())


def _is(system: Any, uri: str) -> bool:
    """`system` names the code system `uri` (the canonical URI compared first: no look-up for it)."""
    return system == uri or read_system(system, None) == uri
