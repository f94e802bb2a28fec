"""A site's lab map (`--lab-map FILE`, YAML or CSV): its local codes or LOINCs -> LBTESTCD, LBSPEC, LBMETHOD, unit.

Checked against mappings/schema/lab_map.schema.json, then against the terminology (LBTESTCD and SPECTYPE from
CDISC CT, units from units.yaml); every problem names the file, the row and the field. The rows are installed
for a run with `mappings.lab_map_installed(rows)`: from-fhir and to-fhir look codes up through the mappings
layer, where a row of the map wins over the built-in table (mappings/lab_tests.yaml) for its code.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from msc_interop import mappings
from msc_interop.code_systems import canonical_system
from msc_interop.errors import InputError

LOINC_SYSTEM = "http://loinc.org"
FIELDS = ("code", "system", "testcd", "specimen", "method", "unit", "loinc", "note")


def load_lab_map(path: str | Path) -> tuple[mappings.LoincCode, ...]:
    """The rows of a lab map as LoincCode entries (code, system, test, specimen, method, unit); InputError naming
    file, row and field on any problem."""
    path = Path(path)
    rows, where = _read(path)
    validator = jsonschema.Draft202012Validator(mappings.schema("lab_map"))
    errors = sorted(validator.iter_errors({"tests": rows} if isinstance(rows, list) else rows),
                    key=lambda e: list(e.absolute_path))
    if errors:
        raise InputError(f"{path}: not a valid lab map (mappings/schema/lab_map.schema.json):\n"
                         + "\n".join(_place(e, where, path) for e in errors[:10]))
    data = rows["tests"] if isinstance(rows, dict) else rows
    problems = [p for i, r in enumerate(data) for p in _check(r, where(i), path)]
    seen: dict[tuple[str, str], str] = {}
    for i, r in enumerate(data):
        key = (_system(r), r["code"])
        if key in seen:
            problems.append(f"{path} {where(i)} field code: {r['code']!r} is mapped twice (also {seen[key]})")
        seen.setdefault(key, where(i))
    if problems:
        raise InputError("\n".join(problems[:20]))
    return tuple(_entry(r) for r in data)


def _read(path: Path) -> tuple[Any, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the lab map ({exc})") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        unknown = [f for f in reader.fieldnames or [] if f.strip() not in FIELDS]
        if unknown or not reader.fieldnames:
            raise InputError(f"{path} line 1: unknown column(s) {', '.join(map(repr, unknown)) or '(none)'}; "
                             f"the columns are {', '.join(FIELDS)} (code and testcd required)")
        rows = [{k.strip(): v.strip() for k, v in r.items() if k and v and v.strip()} for r in reader]
        return rows, lambda i: f"line {i + 2}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from exc
    return data, lambda i: f"row {i + 1} of tests"


def _place(e: jsonschema.ValidationError, where: Any, path: Path) -> str:
    p = list(e.absolute_path)
    if len(p) >= 2 and p[0] == "tests" and isinstance(p[1], int):
        field = f" field {p[2]}" if len(p) > 2 else ""
        return f"  {path} {where(p[1])}{field}: {e.message}"
    return f"  {path} {'/'.join(map(str, p)) or '(top)'}: {e.message}"


def _check(r: dict[str, Any], at: str, path: Path) -> list[str]:
    out = []
    if mappings.codelist("LBTESTCD").term(r["testcd"]) is None:
        out.append(f"{path} {at} field testcd: {r['testcd']!r} is not a CDISC LBTESTCD term")
    if "specimen" in r and mappings.codelist("SPECTYPE").term(r["specimen"]) is None:
        out.append(f"{path} {at} field specimen: {r['specimen']!r} is not a CDISC SPECTYPE term")
    if "unit" in r and r["unit"] not in mappings.unit_spelling_map():
        out.append(f"{path} {at} field unit: {r['unit']!r} is not a unit of mappings/units.yaml (a CDISC UNIT "
                   "submission value or one of its spellings)")
    return out


def _entry(r: dict[str, Any]) -> mappings.LoincCode:
    t = mappings.lab_tests().get(r["testcd"])
    return mappings.LoincCode(code=r["code"], testcd=r["testcd"],
                              specimen=r.get("specimen") or (t.specimen if t else ""),
                              display=r.get("note", ""), system=_system(r),
                              method=r.get("method", ""), loinc=r.get("loinc", ""),
                              unit=mappings.unit_spelling_map().get(r.get("unit", ""), ""))  # g/dl -> g/dL


def _system(r: dict[str, Any]) -> str:
    """A row's system: a known non-canonical URI of a code system (http://loinc.org/, LOINC's OID) as its canonical
    URI, as from-fhir reads the data's (msc_interop/code_systems.py); "" for none."""
    system = r.get("system", "")
    return canonical_system(system) if isinstance(system, str) and system else ""
