"""Typed access to mappings/fhir_mapping.yaml (through msc_interop.mappings, the one door to mappings/)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from msc_interop import mappings


@dataclass(frozen=True)
class CodeMap:
    """CDISC value -> (FHIR code, display), and back (first CDISC value wins; codes compared case-insensitively)."""

    name: str
    forward: dict[str, tuple[str, str]]
    default: str = ""

    @functools.cached_property
    def reverse(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for cdisc, (code, _display) in self.forward.items():
            out.setdefault(code.lower(), cdisc)
        return out

    def code(self, value: str) -> tuple[str, str] | None:
        return self.forward.get(value)

    def cdisc(self, code: str) -> str | None:
        return self.reverse.get(str(code).lower())


@functools.cache
def data() -> dict[str, Any]:
    return mappings.fhir_mapping()


def base_url() -> str:
    """Where msc-interop's own CodeSystems, identifier systems and extensions live."""
    return data()["base_url"]


def system(key: str) -> str:
    return data()["systems"][key]["uri"]


def id_system(key: str) -> str:
    return data()["identifier_systems"][key]


def ext_url(key: str) -> str:
    return data()["extensions"][key]["url"]


def fixed(key: str) -> Any:
    return data()["fixed"][key]


@functools.cache
def code_map(name: str) -> CodeMap:
    entry = data()["codes"][name]
    forward = {k: (tuple(v) if isinstance(v, list) else (v, v)) for k, v in entry["map"].items()}
    return CodeMap(name, forward, entry.get("default", ""))


@functools.cache
def reading_map(name: str) -> dict[str, str]:
    """A reading-only map of fhir_mapping.yaml (FHIR code -> CDISC value): several codes may give one value."""
    return dict(data()["codes"][name]["map"])


@functools.cache
def element_map(domain: str) -> dict[str, dict[str, str]]:
    return data()["element_map"].get(domain, {})


def mapped_variables(domain: str) -> frozenset[str]:
    """Variables with a FHIR home of their own (element, extension or derived); the rest are carried."""
    return frozenset(v for v, e in element_map(domain).items() if e["how"] != "carried")


@functools.cache
def ct_by_nci(codelist: str) -> dict[str, str]:
    """NCI C-code -> CDISC submission value in a codelist."""
    return {t.nci_code: t.value for t in mappings.codelist(codelist).terms}
