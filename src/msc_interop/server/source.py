"""The FHIR resources a push sends, from its INPUT: study records, ODM or SDTM go through to-fhir (NDJSON in
a temporary folder); FHIR Bundles / NDJSON are read as they are, Bundle-internal `urn:uuid` references
turned into `Type/id` (a PUT by id needs them resolved by the client)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msc_interop.fhir import terms
from msc_interop.fhir.io import Located, iter_resources
from msc_interop.inputs.kinds import fhir_files, is_fhir
from msc_interop.rejects import RejectReport

# Servers that check references need a resource's targets first: send types in this order (others after,
# by name). Deletions go in the reverse order.
TYPE_ORDER = ("Organization", "ResearchStudy", "Patient", "ResearchSubject", "Encounter")


@dataclass
class Source:
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    studyid: str | None = None
    files: list[tuple[str, str]] = field(default_factory=list)  # (file name, SHA-256): Provenance entities
    problems: list[str] = field(default_factory=list)  # what could not be read or cannot be PUT
    rejects: RejectReport | None = None  # to-fhir's, for records / SDTM input
    kind: str = "fhir"

    def ordered_types(self) -> list[str]:
        return sorted(self.resources, key=type_rank)

    @property
    def total(self) -> int:
        return sum(map(len, self.resources.values()))


def type_rank(rtype: str) -> tuple[int, str]:
    return (TYPE_ORDER.index(rtype), "") if rtype in TYPE_ORDER else (len(TYPE_ORDER), rtype)


def load_source(path: Path, workdir: Path, fhir_version: str, odm_map: Path | None = None,
                encoding: str | None = None) -> Source:
    """The resources of `path` (a records / SDTM input is converted into `workdir` first)."""
    src = Source(files=input_hashes(path))
    if is_fhir(path):
        files, _ = fhir_files([path])
    else:
        from msc_interop import api

        result, rejects = api.to_fhir(path, workdir, fhir_version=fhir_version, bundle="none", ndjson=True,
                                      validate=False, odm_map=odm_map, encoding=encoding)
        src.rejects, src.kind = rejects, "records or SDTM"
        files = [p for p in result.paths if p.suffix == ".ndjson"]
    _read(src, files)
    return src


def _read(src: Source, files: list[Path]) -> None:
    located: list[Located] = []
    urls: dict[str, str] = {}
    for item in iter_resources(files):
        if not isinstance(item, Located):
            src.problems.append(f"{item.file} {item.where} {item.position}: {item.message}")
            continue
        res, rid, rtype = item.resource, item.resource.get("id"), item.resource.get("resourceType")
        if not isinstance(rid, str) or not rid or not isinstance(rtype, str):
            src.problems.append(f"{item.label}: a resource without an id cannot be PUT by id; not sent")
            continue
        if item.full_url:
            urls[item.full_url] = f"{rtype}/{rid}"
        located.append(item)
    study_system = terms.id_system("studyid")
    for item in located:
        res = _resolved(item.resource, urls) if urls else item.resource
        src.resources.setdefault(res["resourceType"], []).append(res)
        if res["resourceType"] == "ResearchStudy" and src.studyid is None:
            for ident in res.get("identifier") or []:
                if isinstance(ident, dict) and ident.get("system") == study_system:
                    src.studyid = ident.get("value")


def _resolved(node: Any, urls: dict[str, str]) -> Any:
    """`node` with every `reference` that is a Bundle entry's fullUrl replaced by that entry's Type/id."""
    if isinstance(node, dict):
        out = {k: _resolved(v, urls) for k, v in node.items()}
        ref = node.get("reference")
        if isinstance(ref, str) and ref in urls:
            out["reference"] = urls[ref]
        return out
    if isinstance(node, list):
        return [_resolved(v, urls) for v in node]
    return node


def input_hashes(path: Path) -> list[tuple[str, str]]:
    """(name relative to INPUT, SHA-256) of the input file, or of every file under the input folder."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = []
    for p in files:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
        out.append((p.name if p == path else str(p.relative_to(path)), h.hexdigest()))
    return out
