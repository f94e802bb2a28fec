"""FHIR rules (scope "fhir"): structure through fhir.resources, and what the models do not check.

Input: FHIR JSON files (a Bundle or a single resource) and NDJSON files (one resource per line; all NDJSON files
of one call are one set, as a Bulk Data export is). Each resource keeps its place: the file, the Bundle entry
index (0-based, as Bundle.entry[i]) or NDJSON line (1-based), and every finding names the element by FHIRPath
(Observation.referenceRange[0].low.code).

Versions: "R4" is checked with the fhir.resources R4B models (for the resources used here R4B content equals
R4), "R5" with the R5 models; the value sets of required bindings differ per version and are data (params of
MSC-FHIR-002 in mappings/validation_rules.yaml). Code system URIs come from mappings/fhir_mapping.yaml
(fhir/terms.py), where the writer takes them too.

`FHIR_HOOKS` is where the FHIR package (src/msc_interop/fhir) can add checks that need its writer's knowledge
(profiles, the SDTM extensions); it registers none yet. `fhir_rules(paths, version)` runs the built-in rules and
every hook.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from msc_interop.code_systems import noncanonical_system
from msc_interop.fhir import terms
from msc_interop.loinc_names import coding_display_problem
from msc_interop.validate.fhir_interpretation import Patients, interpretation_wrong
from msc_interop.validate.fhir_pages import context_pages, page_findings
from msc_interop.validate.fhir_read import (  # noqa: F401 -- read_fhir, normalize_version: used from here too
    _RELATIVE,
    Container,
    FhirContext,
    FhirItem,
    _at,
    _steps,
    normalize_version,
    read_fhir,
)
from msc_interop.validate.fhir_scan import _date_elements, bundle_shell, date_problem, scan
from msc_interop.validate.model import Finding, RuleMeta
from msc_interop.validate.registry import crashed, get_rule, params, rule
from msc_interop.validate.terminology import fhir_date_problem, loinc_problem, ucum_problem

# the same few codes in every resource: each checked once
loinc_problem, ucum_problem = functools.lru_cache(4096)(loinc_problem), functools.lru_cache(4096)(ucum_problem)

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DECIMAL = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")  # what the models take as a decimal

FhirHook = Callable[[Sequence[Path], str], Iterable[Finding]]
FHIR_HOOKS: dict[str, FhirHook] = {}


def register_fhir_hook(name: str, hook: FhirHook) -> None:
    """Add checks run by `fhir_rules` (for the FHIR package: rules that need its writer's knowledge).

    A hook yields Findings of rules described in mappings/validation_rules.yaml (scope fhir); a hook that raises
    becomes a finding "rule could not run" under its name.
    """
    FHIR_HOOKS[name] = hook


def fhir_rules(paths: Sequence[Path], version: str | None = None, deep: bool = False, engine: Any = None
               ) -> list[Finding]:
    """All FHIR findings for these files: unreadable input, every built-in rule, then every registered hook.

    NDJSON files are streamed (validate/fhir_stream.py: chunks of resources, compact indexes for the whole-set
    rules), so memory does not grow with their size; Bundles and lone resources are read whole. `engine`: who
    reads the NDJSON (None: this process; validate/fhir_dask.py: partitions on Dask workers, same findings).
    """
    from msc_interop.validate.fhir_stream import stream_rules

    ctx, findings = stream_rules(paths, version, deep, engine)
    for name, hook in FHIR_HOOKS.items():
        try:
            findings.extend(hook(paths, ctx.version))
        except Exception as exc:  # reported, never swallowed
            f = crashed(get_rule("MSC-FHIR-001"), f"{type(exc).__name__}: {exc}")
            findings.append(Finding(name, f.severity, message=f.message))
    return findings


# --- walking resources ------------------------------------------------------------------------------------

def _codings(item: FhirItem) -> list[tuple[str, dict[str, Any]]]:
    return scan(item).codings


# --- structure -------------------------------------------------------------------------------------------------

@functools.cache
def _model_class(version: str, resource_type: str) -> type | None:
    if version == "R5":
        from fhir.resources import get_fhir_model_class
    else:
        from fhir.resources.R4B import get_fhir_model_class
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError, AttributeError):
        return None


def _fhirpath(root: str, loc: Sequence[Any]) -> str:
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and _FIELD.match(part) and part != "root":
            out += f".{part}"
    return out


def _schema_passed(ctx: FhirContext) -> set[int]:
    """Items the fast validator (jsonschema-rs, the official JSON Schema subset) finds valid: the models run
    only on the others, to give their messages (fhir/validate.py: the two agree on what is invalid, and the
    schema is stricter on JSON forms). With `deep`, none: the models check every resource."""
    if ctx.deep:
        return set()
    from msc_interop.fhir.validate import fast_validator

    fast = fast_validator(ctx.version)
    valid = fast.is_valid
    return {n for n, item in enumerate(ctx.items) if not item.is_bundle and valid(item.resource)}


@rule("MSC-FHIR-001")
def structure(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    models = "R5" if ctx.version == "R5" else "R4B (for R4)"
    for item, path, value, entry, message in ctx.shape_problems:
        where = ctx.where(item) if item is not None else {}
        where["row"] = entry
        yield meta.finding(**where, variable=path, value=value, path=path, error=message)
    dates = _date_elements()
    passed = _schema_passed(ctx)
    strings: dict[int, list[tuple[str, str]]] = defaultdict(list)  # "5.4": the models take it, FHIR JSON does not
    for item, path, q in _quantities(ctx, meta):
        value = q.get("value")
        if type(value) is str and _DECIMAL.match(value):
            strings[id(item)].append((path, value))
    for n, item in enumerate(ctx.items):
        if n in passed:
            continue  # a type the schema holds, valid by it
        cls = _model_class(ctx.version, item.type)
        if cls is None:
            yield meta.finding(**ctx.where(item), variable=item.type, value=item.type, path=item.type,
                               error=f"'{item.type}' is not a {ctx.version} resource type ({models} models)")
            continue
        # the entries' resources are validated one by one (their own locations); the shell here
        data = bundle_shell(item.resource) if item.is_bundle else item.resource
        try:
            cls.model_validate(data)
        except pydantic.ValidationError as exc:
            for err in exc.errors():
                loc = err.get("loc", ())
                names = [p for p in loc if isinstance(p, str) and _FIELD.match(p) and p != "root"]
                value = err.get("input")
                kind = dates.get(names[-1]) if names else None
                if kind and isinstance(value, str) and fhir_date_problem(value, kind):
                    continue  # MSC-FHIR-010 reports it, with the reason
                path = _fhirpath(item.type, loc)
                shown = value if isinstance(value, str | int | float | bool) else ""
                yield meta.finding(**ctx.where(item), variable=path, value=shown, path=path,
                                   error=f"{err.get('msg', '')} ({models} models)")
        for path, value in strings.get(id(item), ()):
            yield meta.finding(**ctx.where(item), variable=f"{path}.value", value=value, path=f"{path}.value",
                               error=f"a decimal is a JSON number in FHIR JSON, not a string: {value}, not \"{value}\"")


@rule("MSC-FHIR-002")
def required_value_sets(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    bindings = [b for b in params(meta, "bindings") if ctx.version in b]
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in bindings:
        by_type[b["path"].split(".")[0]].append(b)
    for item in ctx.items:
        for b in by_type.get(item.type, ()):
            allowed = b[ctx.version]
            _, steps = _steps(b["path"])
            if len(steps) == 1:  # the usual case (Observation.status), without _at
                value = item.resource.get(steps[0])
                if value is None or (type(value) is str and value in allowed):
                    continue
            for path, value in _at(item, b["path"]):
                if isinstance(value, str) and value not in allowed:
                    yield meta.finding(**ctx.where(item), variable=path, value=value, path=path,
                                       valueset=b["valueset"], allowed=" | ".join(allowed))


@rule("MSC-FHIR-003")
def coding_system_and_code(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    for item in ctx.items:
        for path, coding in _codings(item):
            has_system, has_code = bool(coding.get("system")), bool(coding.get("code"))
            if not (has_system and has_code):
                has = ("a code only" if has_code else "a system only" if has_system
                       else "neither" if not coding.get("display") else "a display only")
                yield meta.finding(**ctx.where(item), variable=path, value=coding.get("code", ""), path=path, has=has)


def _quantities(ctx: FhirContext, meta: RuleMeta) -> list[tuple[FhirItem, str, dict[str, Any]]]:
    """The quantities with a value at the paths of MSC-FHIR-004 that MSC-FHIR-004, -005 or -011 may report (the
    scan keeps only those), computed once for the three."""
    if ctx.quantities is None:
        ctx.quantities = [(item, path, q) for item in ctx.items for _, path, q in scan(item).quantities]
    return ctx.quantities


@rule("MSC-FHIR-004")
def quantity_code_has_system(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    for item, path, q in _quantities(ctx, meta):
        if q.get("code") and not q.get("system"):
            yield meta.finding(**ctx.where(item), variable=path, value=q["code"], path=path)


@rule("MSC-FHIR-011")
def quantity_has_ucum(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    ucum = terms.system("ucum")
    for item, path, q in _quantities(ctx, meta):
        system, code = q.get("system"), q.get("code")
        if (system == ucum and code) or (code and not system):
            continue  # UCUM, or a code without its system: MSC-FHIR-004 reports that
        if not system:
            problem = f"it has no system (unit '{q.get('unit', '')}')" if q.get("unit") else "it has no unit at all"
        elif system != ucum:
            known = noncanonical_system(system) if type(system) is str else None  # as MSC-FHIR-012 for a Coding
            # only UCUM's own variants: another code system's canonical URI would still fail this rule
            problem = f"its system is {system}" + (
                f", a non-canonical URI of {known[0]}: use {known[1]} (systems are matched by exact URI)"
                if known and known[1] == ucum else "")
        else:
            problem = "it has no code"
        yield meta.finding(**ctx.where(item), variable=path, value=code or q.get("unit", ""), path=path,
                           problem=problem)


@rule("MSC-FHIR-005")
def ucum_parses(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    ucum = terms.system("ucum")
    for item, path, q in _quantities(ctx, meta):
        code = q.get("code")
        if q.get("system") == ucum and isinstance(code, str) and code:
            problem = ucum_problem(code)
            if problem:
                yield meta.finding(**ctx.where(item), variable=f"{path}.code", value=code, path=f"{path}.code",
                                   error=problem)


@rule("MSC-FHIR-006")
def loinc_form(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    loinc = terms.system("loinc")
    for item in ctx.items:
        for path, coding in _codings(item):
            code = coding.get("code")
            if coding.get("system") == loinc and isinstance(code, str) and code:
                reason = loinc_problem(code)
                if reason:
                    yield meta.finding(**ctx.where(item), variable=f"{path}.code", value=code, path=f"{path}.code",
                                       reason=reason)


@rule("MSC-FHIR-012")
def system_canonical(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    for item in ctx.items:
        for path, coding in _codings(item):  # the scan keeps these Codings (fhir_scan._needs_look)
            system = coding.get("system")
            found = noncanonical_system(system) if type(system) is str else None
            if found:
                name, canonical = found
                yield meta.finding(**ctx.where(item), variable=f"{path}.system", value=system,
                                   path=f"{path}.system", name=name, canonical=canonical)


@rule("MSC-FHIR-013")
def search_pages(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    if ctx.index is not None:  # a chunk of streamed NDJSON: its lines' pages are judged with the whole set's
        return                 # (validate/fhir_stream.py check_lines, fhir_pages.py)
    yield from page_findings(meta, context_pages(ctx))


@rule("MSC-FHIR-014")
def loinc_display(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    for item in ctx.items:
        for path, coding in _codings(item):  # the scan keeps these Codings (fhir_scan._needs_look)
            detail = coding_display_problem(coding)
            if detail is not None:
                yield meta.finding(**ctx.where(item), variable=f"{path}.display", value=coding["display"],
                                   path=f"{path}.display", code=coding["code"], detail=detail)


@rule("MSC-FHIR-007")
def interpretation_consistent(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    interpretation = terms.system("interpretation")
    patients = ctx.index.patients if ctx.index is not None else Patients(  # whose range, of several (NDJSON: the
        ([f"Patient/{i.resource.get('id')}", i.full_url], i.resource) for i in ctx.items  # Patients read before)
        if i.type == "Patient")
    for item in ctx.items:
        if item.type != "Observation":
            continue
        found = interpretation_wrong(item.resource, interpretation, lambda item=item: scan(item).elements, patients)
        if found is None:
            continue
        x, low, high, expected, wrong = found
        for i, j, code in wrong:
            path = f"Observation.interpretation[{i}].coding[{j}].code"
            yield meta.finding(**ctx.where(item), variable=path, value=code, path=path, number=x,
                               low="" if low is None else low, high="" if high is None else high,
                               expected=expected)


@dataclass
class _Index:
    full_urls: set[str]
    type_ids: set[str]
    types: set[str]


def _indexes(ctx: FhirContext) -> list[_Index]:
    """One look-up index per container, built in one pass over all items (linear)."""
    out = [_Index(set(), set(), set()) for _ in ctx.containers]
    for item in ctx.items:
        if item.is_bundle:
            continue
        idx = out[item.container]
        if item.full_url:
            idx.full_urls.add(item.full_url)
        rid = item.resource.get("id")
        if isinstance(rid, str) and rid:
            idx.type_ids.add(f"{item.type}/{rid}")
        idx.types.add(item.type)
    return out


def _base(full_url: str) -> str:
    """The service base of an absolute fullUrl (http://x/fhir/Patient/1 -> http://x/fhir/)."""
    m = re.match(r"^(https?://.*/)[A-Z][A-Za-z]+/[^/]+$", full_url)
    return m.group(1) if m else ""


@rule("MSC-FHIR-008")
def references_resolve(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    if ctx.index is not None:
        yield from ctx.index.add_references(ctx, meta)
        return
    indexes = _indexes(ctx)
    for item in ctx.items:
        container = ctx.containers[item.container]
        if item.is_bundle:
            continue
        idx = indexes[item.container]
        contained = {c.get("id") for c in item.resource.get("contained", []) if isinstance(c, dict)} \
            if isinstance(item.resource.get("contained"), list) else set()
        base = _base(item.full_url)
        # search results and versions: the resources they reference need not be in the Bundle
        kind = "resource" if container.bundle_type in _OPEN_BUNDLES else container.kind
        for path, value in scan(item).references:
            if _resolves(value, kind, idx, contained, base):
                continue
            yield meta.finding(**ctx.where(item), variable=path, value=value, path=path, container=container.label)


_OPEN_BUNDLES = frozenset({"searchset", "history"})


def _resolves(ref: str, kind: str, idx: _Index, contained: set[Any], base: str) -> bool:
    if ref.startswith("#"):
        return ref == "#" or ref[1:] in contained
    if kind == "resource":
        return True  # a lone resource: only contained references can be checked
    m = _RELATIVE.match(ref)
    if kind == "NDJSON":
        if not m:
            return True  # absolute or urn references are not checked across NDJSON files
        return m.group(1) not in idx.types or f"{m.group(1)}/{m.group(2)}" in idx.type_ids
    if ref in idx.full_urls:
        return True
    if m:
        plain = f"{m.group(1)}/{m.group(2)}"
        return plain in idx.type_ids or (bool(base) and base + plain in idx.full_urls)
    # an absolute reference to a server outside the Bundle is not checked; a urn: that no fullUrl has is broken
    return ref.startswith(("http://", "https://"))


@rule("MSC-FHIR-009")
def ids_unique(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    if ctx.index is not None:
        ctx.index.add_ids(ctx)
        return
    seen: dict[tuple[int, str, str], list[FhirItem]] = defaultdict(list)
    for item in ctx.items:
        rid = item.resource.get("id")
        container = ctx.containers[item.container]
        if item.is_bundle or container.kind == "resource" or not isinstance(rid, str) or not rid:
            continue
        if container.bundle_type == "history":
            continue  # bdl-7: a history Bundle holds the versions of a resource
        # bdl-7: entries of one resource with different meta.versionId are its versions
        meta_ = item.resource.get("meta")
        version = meta_.get("versionId") if isinstance(meta_, dict) else None
        seen[(item.container, item.label, version if isinstance(version, str) else "")].append(item)
    counts = Counter({k: len(v) for k, v in seen.items() if len(v) > 1})
    for (c, label, version), n in sorted(counts.items()):
        items = seen[(c, label, version)]
        kind = ctx.containers[c].kind
        places = ", ".join(f"{'entry' if kind == 'Bundle' else 'line'} {i.entry}" for i in items)
        for item in items:
            yield meta.finding(**ctx.where(item), variable=f"{item.type}.id", value=label, count=n,
                               where=f"{ctx.containers[c].label}: {places}")


@rule("MSC-FHIR-010")
def date_forms(ctx: FhirContext, meta: RuleMeta) -> Iterable[Finding]:
    kinds = _date_elements()
    for item in ctx.items:
        for path, key, value in scan(item).dates:  # a non-string date is a type error: MSC-FHIR-001 reports it
            kind = kinds[key]
            reason = date_problem(value, kind)
            if reason:
                yield meta.finding(**ctx.where(item), variable=path, value=value, path=path, kind=kind, reason=reason)

