"""The study definition (study.yaml / .yml / .json beside the records, or the sheets study/sites/arms/visits of a
workbook, or an ODM mapping's study_definition): found, read and checked against its schema
(mappings/schema/study_definition.schema.json) and the rules a schema cannot state (visit numbers and names
unique, an IANA time zone, plausible dates that are calendar dates in order, declared trial elements and arm paths
that fit together).

Its own module because it is one document read once per study, by every kind of records (CSV folder, workbook,
ODM export) and by commands that need only the study's metadata (api.py, a partitioned load), apart from the
reading and checking of the forms' rows (reader.py). A definition that fails its checks is StudyDefinitionError
naming the file and the place in it: nothing can be converted without it.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from msc_interop import dates, iso8601, mappings
from msc_interop.errors import InputError, StudyDefinitionError
from msc_interop.records.csv_text import utf8_text
from msc_interop.records.value_checks import plausible_bounds


def find_definition(folder: Path, required: bool = True) -> Path | None:
    """The study definition file in `folder` (study.yaml, .yml, then .json); InputError when `required` and none."""
    for name in ("study.yaml", "study.yml", "study.json"):
        if (folder / name).exists():
            return folder / name
    if required:
        raise InputError(f"{folder}: no study definition (study.yaml) in the records folder")
    return None


def read_definition(path: Path) -> dict[str, Any]:
    """The study definition file at `path` (UTF-8 YAML or JSON), read and checked (check_definition)."""
    text = utf8_text(path.read_bytes(), path.name)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyDefinitionError(f"{path.name}: not valid YAML: {exc}") from exc
    return check_definition(data, path.name)


def check_definition(data: Any, where: str) -> dict[str, Any]:
    """`data` (a parsed study definition) checked against its schema and rules; StudyDefinitionError naming
    `where` and the place otherwise. YAML dates of plausible_dates are turned into text."""
    if isinstance(data, dict) and isinstance(data.get("plausible_dates"), dict):  # YAML reads 2030-12-31 as a date
        data["plausible_dates"] = {k: v.isoformat() if isinstance(v, datetime.date) else v
                                   for k, v in data["plausible_dates"].items()}
    validator = jsonschema.Draft202012Validator(mappings.schema("study_definition"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10]]
        raise StudyDefinitionError(f"{where}: the study definition does not match its schema "
                                   f"(mappings/schema/study_definition.schema.json):\n" + "\n".join(lines))
    not_finite = [f"{'/'.join(map(str, at))}: {value!r}" for at, value in _numbers(data)
                  if isinstance(value, float) and not math.isfinite(value)]
    if not_finite:
        raise StudyDefinitionError(f"{where}: a number must be finite (YAML .nan / .inf are not values): "
                                   + "; ".join(not_finite))
    visitnums = [v["visitnum"] for v in data["visits"]]
    if len(set(visitnums)) != len(visitnums):
        raise StudyDefinitionError(f"{where}: visits: VISITNUM values repeat ({visitnums})")
    _check_visit_names(data["visits"], where)
    _check_timezone(data["timezone"], where)
    _check_plausible_dates(data, where)
    _check_products(data.get("products", []), where)
    _check_trial_design(data, where)
    return data


def _check_trial_design(data: dict[str, Any], where: str) -> None:
    """Declared trial elements (`elements`) come with every arm's `path` and the other way round; ETCDs are unique,
    each step of a path names one of them, its epoch is no CDISC CT EPOCH term misspelt (the codelist is extensible),
    each element has a TEENRL or a TEDUR,
    a TEDUR an ISO 8601 duration."""
    elements, arms = data.get("elements", []), data["arms"]
    with_path = [i for i, a in enumerate(arms) if "path" in a]
    if elements and len(with_path) < len(arms):
        missing = ", ".join(f"arms/{i} ({arms[i]['armcd']})" for i in range(len(arms)) if i not in with_path)
        raise StudyDefinitionError(f"{where}: `elements` is given but {missing} has no `path`: with declared "
                                   "elements every arm lists its own (TA: the arm's elements in order)")
    if with_path and not elements:
        raise StudyDefinitionError(f"{where}: arms/{with_path[0]}/path is given but no `elements`: declare the "
                                   "elements (TE) the paths name, or leave both out to have them derived")
    _check_not_blank(where, [(f"elements/{i}/{k}", e[k]) for i, e in enumerate(elements) for k in ("element", "testrl")]
                     + [(f"arms/{i}/path/{j}/epoch", s["epoch"]) for i, a in enumerate(arms)
                        for j, s in enumerate(a.get("path", []))])
    codes: dict[str, int] = {}
    for i, e in enumerate(elements):
        if e["etcd"] in codes:
            raise StudyDefinitionError(f"{where}: elements/{i}/etcd: {e['etcd']!r} is the ETCD of elements/"
                                       f"{codes[e['etcd']]} too; each element has its own code")
        codes[e["etcd"]] = i
        if not (e.get("teenrl") or e.get("tedur")):  # SDTMIG 3.4 TE TEENRL: either TEENRL or TEDUR for each element
            raise StudyDefinitionError(f"{where}: elements/{i} ({e['etcd']}) has neither `teenrl` nor `tedur`: "
                                       "SDTMIG 3.4 TE asks for one of them for each element (the rule that ends it, "
                                       "or its planned duration)")
        if e.get("tedur") and not iso8601.DURATION.fullmatch(e["tedur"]):
            raise StudyDefinitionError(f"{where}: elements/{i}/tedur: {e['tedur']!r} is not an ISO 8601 duration "
                                       "(e.g. P14D, P2W, P6M)")
    # EPOCH (C99079) is extensible: a sponsor's own epoch is allowed (define.xml marks it def:ExtendedValue, validate
    # warns as for any extended term); a CT term in another spelling ("Screening") is a mistake, not an extension
    folded = {v.upper(): v for v in mappings.codelist("EPOCH").values}
    for i, a in enumerate(arms):
        for j, step in enumerate(a.get("path", [])):
            if step["etcd"] not in codes:
                raise StudyDefinitionError(f"{where}: arms/{i}/path/{j}/etcd: {step['etcd']!r} is not an ETCD of "
                                           f"`elements` ({', '.join(codes)})")
            term = folded.get(step["epoch"].strip().upper())
            if term is not None and term != step["epoch"]:
                raise StudyDefinitionError(f"{where}: arms/{i}/path/{j}/epoch: {step['epoch']!r} is the CDISC CT "
                                           f"EPOCH (C99079) term {term!r} written otherwise: write it as CT does")


def _check_not_blank(where: str, values: list[tuple[str, str]]) -> None:
    """TA EPOCH and TE ELEMENT / TESTRL are Req (SDTMIG 3.4): spaces only (the schema's minLength lets them by) would
    be written as an empty value."""
    for at, value in values:
        if not value.strip():
            raise StudyDefinitionError(f"{where}: {at}: {value!r} is empty; SDTMIG 3.4 requires a value "
                                       "(TA EPOCH, TE ELEMENT, TESTRL)")


def _check_products(products: list[dict[str, Any]], where: str) -> None:
    """Each product's dose form is a CDISC FRM term (EXDOSFRM; FHIR gives its NCI code), each product has a name of
    its own, and each name, EXTRT or alias (case and spaces aside, as records are matched) names one product only."""
    forms = set(mappings.codelist("FRM").values)
    owner: dict[str, str] = {}
    names: dict[str, int] = {}
    for i, p in enumerate(products):
        first = names.setdefault(str(p["name"]).strip().upper(), i)
        if first != i:  # (two products of one name: the lookup by name would keep the last, silently)
            raise StudyDefinitionError(f"{where}: products/{i}: the name {p['name']!r} is products/{first}'s too; "
                                       "each product needs a name of its own")
        form = p.get("dose_form", "")
        if form and form not in forms:
            raise StudyDefinitionError(f"{where}: products/{i}/dose_form: {form!r} is not a CDISC Pharmaceutical "
                                       "Dosage Form (FRM) submission value (e.g. 'INJECTION, SUSPENSION', "
                                       "'TABLET'); see mappings/codelists.json FRM")
        for key in (p["name"], p["extrt"], *p.get("aliases", [])):
            folded = str(key).strip().upper()
            if folded in owner and owner[folded] != p["name"]:
                raise StudyDefinitionError(f"{where}: products: {key!r} names product {owner[folded]!r} and "
                                           f"product {p['name']!r}; a name, extrt or alias must name one product")
            owner[folded] = p["name"]


def _check_plausible_dates(data: dict[str, Any], where: str) -> None:
    """plausible_dates: real calendar dates, earliest not after latest (a YAML date is read as text)."""
    earliest, latest = plausible_bounds(data)
    for name, value in (("earliest", earliest), ("latest", latest)):
        if dates.collected_problem(value):
            raise StudyDefinitionError(f"{where}: plausible_dates/{name}: {value!r} is not a calendar date "
                                       f"({dates.collected_problem(value)})")
    if earliest > latest:
        raise StudyDefinitionError(f"{where}: plausible_dates: earliest {earliest} is after latest {latest}")


def _check_timezone(tz: str, where: str) -> None:
    """The study's time zone must be an IANA name: '' would silently mean UTC, 'UTC+8' is no zone at all."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise StudyDefinitionError(f"{where}: timezone {tz!r} is not an IANA time zone name (e.g. Asia/Shanghai, "
                                   "Europe/Paris, America/New_York, UTC)") from None


def _check_visit_names(visits: list[dict[str, Any]], where: str) -> None:
    """Each visit name or alias (case and spaces aside, as records are matched) names one visit only, and none
    starts with "unscheduled" (the records' mark of an unplanned visit: sdtm/common.map_visits)."""
    owner: dict[str, Any] = {}
    for v in visits:
        for key in (v["visit"], *v.get("aliases", [])):
            folded = str(key).strip().upper()
            if folded.startswith("UNSCHEDULED"):
                raise StudyDefinitionError(f"{where}: visits: {key!r} names a planned visit, but a visit name "
                                           "starting with 'unscheduled' marks a record of an unplanned visit "
                                           "(numbered from its date, not in the schedule); rename it")
            if folded in owner and owner[folded] != v["visitnum"]:
                raise StudyDefinitionError(f"{where}: visits: {key!r} names visit {owner[folded]:g} and visit "
                                           f"{v['visitnum']:g}; a visit name or alias must name one visit")
            owner[folded] = v["visitnum"]


def _numbers(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every number in a parsed YAML/JSON document."""
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in _numbers(v, (*at, k))]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in _numbers(v, (*at, i))]
    return [(at, node)] if isinstance(node, int | float) and not isinstance(node, bool) else []
