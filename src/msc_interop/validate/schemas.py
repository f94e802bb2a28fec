"""The official schemas validate checks files against, shipped in mappings/schema/external (offline use).

- Define-XML 2.1 XSD (define2-1-0.xsd with its ODM 1.3.2 imports): loaded from its path so that the relative
  imports resolve; parsing refuses entities and network access.
- Dataset-JSON 1.1 JSON Schemas (JSON and NDJSON forms). The NDJSON one is UTF-16 upstream and refers to
  three definitions it nests under DatasetMetadata; they are lifted to $defs in memory (see the README there).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from lxml import etree

from msc_interop import mappings
from msc_interop.errors import MappingDataError


def external_dir() -> Path:
    return mappings.mappings_dir() / "schema" / "external"


def define_xsd_path() -> Path:
    path = external_dir() / "define-xml-2.1" / "cdisc-definexml-2.1.0" / "define2-1-0.xsd"
    if not path.is_file():
        raise MappingDataError(f"the Define-XML 2.1 schema is missing ({path}); reinstall msc-interop")
    return path


@functools.cache
def define_xsd() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(define_xsd_path()), parser))


@functools.cache
def odm_xsd() -> etree.XMLSchema:
    """The ODM 1.3.2 XML Schema (shipped with the Define-XML 2.1 package, which imports it)."""
    path = external_dir() / "define-xml-2.1" / "cdisc-odm-1.3.2" / "ODM1-3-2.xsd"
    if not path.is_file():
        raise MappingDataError(f"the ODM 1.3.2 schema is missing ({path}); reinstall msc-interop")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def _read_json(path: Path) -> Any:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return json.loads(raw.decode("utf-16"))
    return json.loads(raw.decode("utf-8-sig"))


@functools.cache
def dataset_json_validator(ndjson: bool = False) -> jsonschema.protocols.Validator:
    """A Draft 2019-09 validator of the Dataset-JSON 1.1 schema (ndjson=True: the metadata-line schema)."""
    name = "dataset-ndjson-schema.json" if ndjson else "dataset.schema.json"
    path = external_dir() / "dataset-json-1.1" / name
    if not path.is_file():
        raise MappingDataError(f"the Dataset-JSON 1.1 schema is missing ({path}); reinstall msc-interop")
    doc = _read_json(path)
    if ndjson:
        defs = doc.setdefault("$defs", {})
        props = defs.get("DatasetMetadata", {}).get("properties", {})
        column = props.get("columns", {}).get("items", {})
        lifted = {"Column": column.get("Column"), "DataTypesEnum": column.get("DataTypesEnum"),
                  "SourceSystem": props.get("sourceSystem", {}).get("SourceSystem")}
        for key, value in lifted.items():
            if key not in defs and value is not None:
                defs[key] = value
    cls = jsonschema.validators.validator_for(doc, default=jsonschema.Draft201909Validator)
    return cls(doc)
