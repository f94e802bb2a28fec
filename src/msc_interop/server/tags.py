"""The meta.tags push writes on every resource: the study, and a hash of the content.

Why a tag: a nightly reload must tell an unchanged resource from a changed one without downloading and
comparing whole resources, and without writing a new version of each (issue 16). The hash is SHA-256 of the
resource's JSON without `meta` (keys sorted, no whitespace: orjson), so it does not depend on what the
server adds (versionId, lastUpdated, its own tags). Systems: mappings/fhir_identity.yaml `tags`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from msc_interop import mappings


def systems() -> dict[str, str]:
    return dict(mappings.fhir_identity()["tags"])


def content_hash(resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k != "meta"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def tagged(resource: dict[str, Any], studyid: str) -> tuple[dict[str, Any], str]:
    """A copy of `resource` whose meta holds only the study and content-hash tags (plus its profiles and
    security labels: what a server keeps from a client), and the hash."""
    sys = systems()
    digest = content_hash(resource)
    old = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    meta: dict[str, Any] = {k: old[k] for k in ("profile", "security") if k in old}
    keep = [t for t in old.get("tag") or [] if isinstance(t, dict)
            and t.get("system") not in (sys["study"], sys["content_hash"])]
    meta["tag"] = [*keep, {"system": sys["study"], "code": studyid},
                   {"system": sys["content_hash"], "code": digest}]
    return {**resource, "meta": meta}, digest


def tag_code(resource: dict[str, Any], system: str) -> str | None:
    """The code of the resource's meta.tag of `system` (None when it has none)."""
    meta = resource.get("meta")
    for t in (meta.get("tag") or []) if isinstance(meta, dict) else []:
        if isinstance(t, dict) and t.get("system") == system:
            return t.get("code")
    return None
