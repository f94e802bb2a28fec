"""Reading FHIR input for the FHIR rules: the items (resource, file, Bundle entry or NDJSON line), the containers
references resolve in, the version. fhir_rules.py holds the rules; fhir_stream.py streams NDJSON through them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from msc_interop.errors import MscInteropError
from msc_interop.validate.fhir_scan import _Scan, select
from msc_interop.validate.model import Finding, RuleMeta
from msc_interop.validate.registry import get_rule

_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def normalize_version(version: str | None) -> str:
    """'R4' (also 'R4B', '4.0.1'), 'R5' (also '5.0.0'); None means R4, the version hospitals run."""
    if version is None:
        return "R4"
    v = version.strip().upper()
    if v in ("R4", "R4B", "4.0", "4.0.1", "4.3.0"):
        return "R4"
    if v in ("R5", "5.0", "5.0.0"):
        return "R5"
    raise MscInteropError(f"FHIR version {version!r} is not supported; use R4 or R5")


# --- reading -----------------------------------------------------------------------------------------------

@dataclass
class Container:
    """Where references resolve: one Bundle, the NDJSON set, or a lone resource."""

    kind: str  # "Bundle" | "NDJSON" | "resource"
    file: str
    label: str
    bundle_type: str = ""  # Bundle.type of a Bundle (searchset, history, transaction...)


@dataclass(slots=True)
class FhirItem:
    resource: dict[str, Any]
    file: str
    entry: int | None
    container: int
    full_url: str = ""
    is_bundle: bool = False
    _scan: _Scan | None = field(default=None, repr=False)
    type: str = field(init=False, repr=False)  # the resourceType ("" when none)

    def __post_init__(self) -> None:
        self.type = str(self.resource.get("resourceType", ""))

    @property
    def label(self) -> str:
        rid = self.resource.get("id")
        return f"{self.type}/{rid}" if isinstance(rid, str) and rid else self.type


@dataclass
class FhirContext:
    version: str
    items: list[FhirItem] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    shape_problems: list[tuple[FhirItem | None, str, str, int | None, str]] = field(default_factory=list)
    quantities: list[tuple[FhirItem, str, dict[str, Any]]] | None = None
    # streaming (validate/fhir_stream.py): the items are one chunk of the NDJSON set, and the whole-set rules
    # (MSC-FHIR-008, -009) add to this compact index instead of reporting; it reports when the set is read
    index: Any = None
    deep: bool = False  # structure through the models for every resource, not only those the schema rejects

    def where(self, item: FhirItem) -> dict[str, Any]:
        return {"file": item.file, "dataset": item.label, "row": item.entry}


def _at(item: FhirItem, dotted: str) -> list[tuple[str, Any]]:
    """Nodes at a dotted path of the item's resource (arrays expanded, with their indexes in the path)."""
    rtype, steps = _steps(dotted)
    return select(item.resource, steps, rtype) if item.type == rtype else []


@functools.cache
def _steps(dotted: str) -> tuple[str, list[str]]:
    rtype, *steps = dotted.split(".")
    return rtype, steps


def read_fhir(paths: Sequence[Path], version: str | None = None) -> tuple[FhirContext, list[Finding]]:
    """Parse FHIR JSON and NDJSON files into a context; unreadable files and lines become MSC-IO-001 findings."""
    ctx = FhirContext(normalize_version(version))
    io_rule = get_rule("MSC-IO-001")
    problems: list[Finding] = []
    ndjson_container: int | None = None
    for path in paths:
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(io_rule.finding(file=str(path), kind="FHIR JSON", error=str(exc)))
            continue
        if path.suffix.lower() == ".ndjson":
            if ndjson_container is None:
                ndjson_container = len(ctx.containers)
                ctx.containers.append(Container("NDJSON", str(path), "the NDJSON files given together"))
            _read_ndjson(ctx, path, raw, ndjson_container, problems, io_rule)
            continue
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(io_rule.finding(file=str(path), kind="FHIR JSON", error=str(exc)))
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
            problems.append(io_rule.finding(file=str(path), kind="FHIR JSON",
                                            error="the top level is not a resource (no resourceType)"))
            continue
        if doc["resourceType"] == "Bundle":
            _add_bundle(ctx, path, doc)
        else:
            c = len(ctx.containers)
            ctx.containers.append(Container("resource", str(path), str(path.name)))
            ctx.items.append(FhirItem(doc, str(path), None, c))
    if version is None:
        ctx.version = _detected_version(ctx.items)
    return ctx, problems


def _detected_version(items: Sequence[FhirItem]) -> str:
    """R5 when some resources carry elements only R5 has and none carries an R4-only one; else R4 (the
    version hospitals run). Without this, R5 output validated as R4 gave hundreds of false findings."""
    from msc_interop.fhir.versions import evident_version

    seen = {evident_version(item.resource)[0] for item in items if not item.is_bundle}
    return "R5" if "R5" in seen and "R4" not in seen else "R4"


def _add_bundle(ctx: FhirContext, path: Path, doc: dict[str, Any]) -> None:
    c = len(ctx.containers)
    btype = doc.get("type") if isinstance(doc.get("type"), str) else ""
    ctx.containers.append(Container("Bundle", str(path), f"the Bundle ({path.name})", btype))
    bundle = FhirItem(doc, str(path), None, c, is_bundle=True)
    ctx.items.append(bundle)
    entries = doc.get("entry", [])
    if not isinstance(entries, list):
        ctx.shape_problems.append((bundle, "Bundle.entry", "", None, "Bundle.entry is not an array"))
        return
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None and isinstance(entry, dict) and (entry.get("request") or entry.get("response")):
            continue  # bdl-5: a DELETE in a transaction or batch, a deleted version in a history
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            ctx.shape_problems.append((bundle, f"Bundle.entry[{i}].resource", "", i,
                                       "the entry has no resource with a resourceType"))
            continue
        full_url = entry.get("fullUrl", "") if isinstance(entry.get("fullUrl", ""), str) else ""
        ctx.items.append(FhirItem(resource, str(path), i, c, full_url))


def _read_ndjson(ctx: FhirContext, path: Path, raw: bytes, container: int, problems: list[Finding],
                 io_rule: RuleMeta) -> None:
    for line_no, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(io_rule.finding(file=str(path), row=line_no, kind="an NDJSON line", error=str(exc)))
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            problems.append(io_rule.finding(file=str(path), row=line_no, kind="an NDJSON line",
                                            error="the line is not a resource (no resourceType)"))
            continue
        ctx.items.append(FhirItem(resource, str(path), line_no, container))
