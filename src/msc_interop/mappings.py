"""The one door to the standards knowledge kept as data in `mappings/`.

Each file is checked against its JSON Schema in `mappings/schema/` when first loaded, then offered through
typed look-ups (`codelist("NRIND")`, `lab_test("WBC")`, `unit("10^9/L")`). Code never reads `mappings/`
directly, so a new lab test or term is a data change, reviewed like data.

Location: an installed wheel carries the files inside the package (`msc_interop/mappings`); a source checkout
(editable install, tests) reads the repository's top-level `mappings/`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import pandas as pd
import yaml

from msc_interop import mapping_cache
from msc_interop.distinct import per_distinct
from msc_interop.errors import MappingDataError

try:  # the C loader is ~10x faster on the CT extract; fall back where libyaml is missing
    _YamlLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader


def mappings_dir() -> Path:
    """Folder holding the mapping data: inside the installed package, else the repository's `mappings/`."""
    packaged = resources.files("msc_interop") / "mappings"
    if packaged.is_dir():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parents[2] / "mappings"
    if repo.is_dir():
        return repo
    raise MappingDataError(
        "mapping data not found: neither the installed package nor the source tree has a mappings/ folder; "
        "reinstall msc-interop (pip install .) from a complete checkout"
    )


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema from mappings/schema/ (`name` without `.schema.json`)."""
    path = mappings_dir() / "schema" / f"{name}.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingDataError(f"missing JSON Schema {path}") from exc


@functools.cache
def load(name: str) -> dict[str, Any]:
    """Load mappings/<name>.yaml or .json and check it against schema/<name>.schema.json."""
    base = mappings_dir()
    for suffix in (".json", ".yaml"):
        path = base / f"{name}{suffix}"
        if path.exists():
            break
    else:
        raise MappingDataError(f"missing mapping file {base / name}.yaml (or .json)")
    text = path.read_text(encoding="utf-8")
    cached_valid: list[bool] = []  # (the verdict on an entry of the cache, which is what parsed returns if true)

    def valid(cached: Any) -> bool:
        cached_valid.append(_valid(name, cached))
        return cached_valid[-1]

    data = (json.loads(text) if path.suffix == ".json"  # YAML: parsed once per edit (mapping_cache.py)
            else mapping_cache.parsed(name, text, lambda t: yaml.load(t, Loader=_YamlLoader),
                                      loader=f"{yaml.__version__} {_YamlLoader.__name__}", valid=valid))
    if cached_valid == [True] or _valid(name, data):  # (what JSON has not, a YAML date, a number as a key: invalid
        return data  # to jsonschema-rs; jsonschema says)
    # only a file that fails is checked again by jsonschema, whose errors name the place of each problem
    validator = jsonschema.Draft202012Validator(schema(name))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10]]
        raise MappingDataError(f"{path} does not match its schema {name}.schema.json:\n" + "\n".join(lines))
    return data


def _valid(name: str, data: Any) -> bool:
    """Whether `data` match mapping file `name`'s schema (an entry of the cache that does not is parsed again)."""
    try:
        return bool(_fast_validator(name).is_valid(data))
    except (ValueError, TypeError):
        return False


@functools.cache
def _fast_validator(name: str) -> Any:
    """jsonschema-rs for the schema: the check of every mapping file at start-up took ~0.7 s per process in
    jsonschema (0.43 s for codelists.json alone), ~0.01 s in jsonschema-rs (same Draft 2020-12)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(schema(name))


# --- CDISC Controlled Terminology -------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    value: str
    nci_code: str
    synonyms: tuple[str, ...]
    preferred_term: str


@dataclass(frozen=True)
class Codelist:
    """One CDISC CT codelist (short name such as "NRIND"), with its NCI C-code and terms."""

    name: str
    nci_code: str
    long_name: str
    extensible: bool
    terms: tuple[Term, ...]

    @functools.cached_property
    def values(self) -> frozenset[str]:
        return frozenset(t.value for t in self.terms)

    @functools.cached_property
    def _by_value(self) -> dict[str, Term]:
        return {t.value: t for t in self.terms}

    def term(self, value: str) -> Term | None:
        return self._by_value.get(value)

    @functools.cached_property
    def synonym_map(self) -> dict[str, str]:
        """Case-insensitive map from submission value, synonym or NCI preferred term to the submission value."""
        out: dict[str, str] = {}
        for t in self.terms:  # submission values win over synonyms of other terms
            for alias in (*t.synonyms, t.preferred_term):
                out.setdefault(alias.strip().upper(), t.value)
        for t in self.terms:
            out[t.value.upper()] = t.value
        return out


@functools.cache
def codelist(name: str) -> Codelist:
    """The CDISC CT codelist with this short name, e.g. codelist("NRIND").values."""
    data = load("codelists")["codelists"]
    try:
        c = data[name]
    except KeyError:
        raise MappingDataError(
            f"codelist {name!r} is not in mappings/codelists.json; known: {', '.join(sorted(data))}. "
            "Add it to scripts/extract_ct.py and re-run it."
        ) from None
    terms = tuple(
        Term(t["value"], t["nci_code"], tuple(t.get("synonyms", [])), t.get("preferred_term", ""))
        for t in c["terms"]
    )
    return Codelist(name, c["nci_code"], c["name"], bool(c["extensible"]), terms)


def ct_source() -> dict[str, str]:
    """Where the CT extract came from (package date goes into Define-XML)."""
    return dict(load("codelists")["source"])


# --- Lab tests and units ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabTest:
    testcd: str
    test: str
    nci_code: str
    category: str
    specimen: str
    loinc: str
    loinc_display: str
    standard_unit: str
    decimals: int
    aliases: tuple[str, ...]
    units: tuple[tuple[str, float], ...]  # (original unit, factor to standard unit)
    loinc_by_unit: tuple[tuple[str, str], ...] = ()  # original unit -> LOINC when it differs (mg/dL bilirubin)
    loincs: tuple[LoincCode, ...] = ()  # every LOINC that means this test (the main one first)
    method: str = ""  # LBMETHOD when the site's lab map gives one
    specimen_decimals: tuple[tuple[str, int], ...] = ()  # LBSPEC -> decimals, where they differ (urine protein)

    def decimals_for(self, specimen: str) -> int:
        """Decimals of LBSTRESN for a result on `specimen` (LBSPEC): the specimen's, else the test's."""
        return dict(self.specimen_decimals).get(specimen, self.decimals)


@dataclass(frozen=True)
class LoincCode:
    """One LOINC of a lab test: the specimen (LBSPEC) its system implies, and the units it is used for."""

    code: str
    testcd: str
    specimen: str
    display: str = ""
    for_units: tuple[str, ...] = ()
    system: str = ""  # a site's lab map: the code system ("" = LOINC in the catalogue, any system in a map)
    method: str = ""  # LBMETHOD (a site's lab map)
    unit: str = ""  # CDISC unit of results sent without one (a site's lab map)
    loinc: str = ""  # a local code's LOINC (a site's lab map), written by to-fhir


@functools.cache
def lab_tests() -> dict[str, LabTest]:
    """All lab tests the mapping knows, by LBTESTCD."""
    out = {}
    for t in load("lab_tests")["tests"]:
        out[t["testcd"]] = LabTest(
            testcd=t["testcd"], test=t["test"], nci_code=t["nci_code"], category=t["category"],
            specimen=t.get("specimen", ""), loinc=t.get("loinc", ""), loinc_display=t.get("loinc_display", ""),
            standard_unit=t["standard_unit"], decimals=int(t.get("decimals", 2)),
            aliases=tuple(t.get("aliases", [])),
            units=tuple((u, float(f)) for u, f in t["units"].items()),
            loinc_by_unit=tuple((u, o["code"]) for o in t.get("other_loinc", []) for u in o["for_units"]),
            loincs=_loinc_codes(t),
            specimen_decimals=tuple((k, int(v)) for k, v in sorted(t.get("specimen_decimals", {}).items())),
        )
    return out


def _loinc_codes(t: dict[str, Any]) -> tuple[LoincCode, ...]:
    main = (LoincCode(t["loinc"], t["testcd"], t["specimen"], t.get("loinc_display", "")),) if t.get("loinc") else ()
    return main + tuple(LoincCode(o["code"], t["testcd"], o.get("specimen", t["specimen"]), o["display"],
                                  tuple(o["for_units"])) for o in t.get("other_loinc", []))


_SITE_MAP: list[tuple[LoincCode, ...]] = []  # the lab map installed for the run (--lab-map), innermost last


@contextlib.contextmanager
def lab_map_installed(rows: tuple[LoincCode, ...] | None) -> Iterator[None]:
    """Install a site's lab map (msc_interop.lab_map.load_lab_map) for the block: its rows win over the built-in
    table in lab_code_hit, lab_loinc_index, site_loinc and lab_alias_map."""
    _SITE_MAP.append(tuple(rows or ()))
    try:
        yield
    finally:
        _SITE_MAP.pop()


def site_map() -> tuple[LoincCode, ...]:
    return _SITE_MAP[-1] if _SITE_MAP else ()


def lab_code_hit(loincs: Iterable[str | None], others: Iterable[str] = ()) -> LoincCode | None:
    """The entry that places an Observation code: the site's lab map first (LOINCs, then its other "system|code"
    codings), then the built-in LOINCs. None when nothing matches."""
    loincs = [c for c in loincs if c]
    pairs = [("http://loinc.org", c) for c in loincs] + [tuple(o.rsplit("|", 1)) for o in others if "|" in o]
    for row in site_map():
        if any(code == row.code and (not row.system or system == row.system) for system, code in pairs):
            return row
    base = _catalogue_loinc_index()
    return next((base[c] for c in loincs if c in base), None)


def site_loinc(testcd: str, specimen: str) -> str:
    """The LOINC the site's lab map gives for a test (and specimen): a LOINC row's code or a local row's loinc."""
    for row in site_map():
        if row.testcd == testcd and (not specimen or row.specimen == specimen):
            if row.system in ("", "http://loinc.org") and _is_loinc(row.code):
                return row.code
            if row.loinc:
                return row.loinc
    return ""


def _is_loinc(code: str) -> bool:
    body, _, digit = code.partition("-")
    return body.isdigit() and digit.isdigit() and len(digit) == 1


def lab_loinc_index() -> dict[str, LoincCode]:
    """Every LOINC -> its test and specimen: the built-in table, overridden by the site's lab map."""
    base = _catalogue_loinc_index()
    rows = [r for r in site_map() if r.system in ("", "http://loinc.org") and _is_loinc(r.code)]
    return {**base, **{r.code: r for r in rows}} if rows else base


@functools.cache
def _catalogue_loinc_index() -> dict[str, LoincCode]:
    """Every LOINC of lab_tests.yaml -> its test and specimen; a LOINC means exactly one test (checked here)."""
    out: dict[str, LoincCode] = {}
    for t in lab_tests().values():
        for c in t.loincs:
            if c.code in out:
                raise MappingDataError(f"mappings/lab_tests.yaml: LOINC {c.code} is given for both "
                                       f"{out[c.code].testcd} and {c.testcd}")
            out[c.code] = c
    return out


def lab_test(testcd: str) -> LabTest:
    try:
        return lab_tests()[testcd]
    except KeyError:
        raise MappingDataError(f"lab test {testcd!r} is not in mappings/lab_tests.yaml") from None


@functools.cache
def lab_test_table() -> pd.DataFrame:
    """One row per lab test (LBTESTCD, LBTEST, LBCAT, LBSPEC, LBLOINC, LBSTRESU, decimals), for merges."""
    rows = [
        {"LBTESTCD": t.testcd, "LBTEST": t.test, "LBCAT": t.category, "LBSPEC": t.specimen, "LBLOINC": t.loinc,
         "LBSTRESU": t.standard_unit, "decimals": t.decimals}
        for t in lab_tests().values()
    ]
    return pd.DataFrame(rows)


def lab_alias_map() -> dict[str, str]:
    """Upper-cased names a data manager may write (LBTESTCD, LBTEST, aliases; a site lab map's codes) -> LBTESTCD."""
    base = _lab_alias_map()
    rows = site_map()
    return {**base, **{r.code.strip().upper(): r.testcd for r in rows}} if rows else base


@functools.cache
def _lab_alias_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for t in lab_tests().values():
        for alias in (t.test, *t.aliases):
            out.setdefault(alias.strip().upper(), t.testcd)
    for t in lab_tests().values():
        out[t.testcd.upper()] = t.testcd
    return out


@functools.cache
def lab_unit_factors() -> pd.DataFrame:
    """(LBTESTCD, unit, factor, LBLOINC): result in `unit` x factor = standard unit; LOINC of that original unit."""
    rows = []
    for t in lab_tests().values():
        by_unit = dict(t.loinc_by_unit)
        rows += [(t.testcd, u, f, by_unit.get(u, t.loinc)) for u, f in t.units]
    return pd.DataFrame(rows, columns=["LBTESTCD", "unit", "factor", "LBLOINC"])


@dataclass(frozen=True)
class Unit:
    cdisc: str
    nci_code: str
    ucum: str
    spellings: tuple[str, ...]


@functools.cache
def units() -> dict[str, Unit]:
    """Units by CDISC UNIT submission value, each with its NCI code and UCUM code."""
    return {
        u["cdisc"]: Unit(u["cdisc"], u.get("nci_code", ""), u["ucum"], tuple(u.get("spellings", [])))
        for u in load("units")["units"]
    }


def unit(cdisc: str) -> Unit:
    try:
        return units()[cdisc]
    except KeyError:
        raise MappingDataError(f"unit {cdisc!r} is not in mappings/units.yaml") from None


@functools.cache
def unit_spelling_map() -> dict[str, str]:
    """Spellings users type -> CDISC unit. Case-sensitive on purpose: G/L (10^9/L) is not g/L (gram per litre)."""
    out: dict[str, str] = {}
    for u in units().values():
        out.setdefault(u.cdisc, u.cdisc)
    for u in units().values():
        for s in (u.ucum, *u.spellings):
            out.setdefault(s, u.cdisc)
    return out


def _fold(text: str) -> str:
    """NFKC folds the micro sign (U+00B5) to mu (U+03BC); '×' is often typed for 'x'."""
    return unicodedata.normalize("NFKC", text).replace("×", "x")


def normalize_unit(text: pd.Series) -> pd.Series:
    """Map unit spellings to CDISC UNIT values column-wise (per distinct value); unknown spellings give NA."""
    m = unit_spelling_map()
    folded = {_fold(k): v for k, v in m.items()}

    def lookup(u: pd.Series) -> pd.Series:
        return pd.Series([m.get(s, folded.get(_fold(s))) for s in u.fillna("").map(str).str.strip()], dtype=object)

    return per_distinct(lookup, text)  # (the column's codes shared: distinct.py)


# --- Adverse event dictionary, exposure, SDTM metadata ------------------------------------------------------

@functools.cache
def ae_dictionary() -> dict[str, dict[str, Any]]:
    """Study MedDRA dictionary: upper-cased verbatim alias or PT -> entry (pt, pt_code, soc, ...)."""
    out: dict[str, dict[str, Any]] = {}
    for e in load("ae_dictionary")["terms"]:
        for alias in (e["pt"], *e.get("verbatim_aliases", [])):
            out.setdefault(alias.strip().upper(), e)
    return out


@functools.cache
def fhir_identity() -> dict[str, Any]:
    """Identity keys of records written to FHIR, and push's meta.tag systems (mappings/fhir_identity.yaml)."""
    return load("fhir_identity")


def exposure() -> dict[str, Any]:
    """Study products, routes and dose forms (mappings/exposure.yaml)."""
    return load("exposure")


@dataclass(frozen=True)
class VariableDef:
    name: str
    label: str
    type: str  # "Char" or "Num"
    datatype: str  # Dataset-JSON dataType
    core: str
    role: str
    origin: str
    codelist: str


@dataclass(frozen=True)
class DomainDef:
    name: str
    label: str
    cls: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[VariableDef, ...]
    seq_order: tuple[str, ...] = ()  # the order that numbers --SEQ within a subject; () for non-SEQ domains

    @functools.cached_property
    def by_name(self) -> dict[str, VariableDef]:
        return {v.name: v for v in self.variables}


@functools.cache
def sdtm_domains() -> dict[str, DomainDef]:
    data = load("sdtm_variables")["domains"]
    out = {}
    for name, d in data.items():
        variables = tuple(
            VariableDef(v["name"], v["label"], v["type"], v["datatype"], v["core"], v["role"], v["origin"],
                        v.get("codelist", ""))
            for v in d["variables"]
        )
        out[name] = DomainDef(name, d["label"], d["class"], d["structure"], tuple(d["keys"]), variables,
                              tuple(d.get("seq_order", ())))
    return out


def sdtm_domain(name: str) -> DomainDef | None:
    """Metadata of a domain; SUPPxx datasets share SUPPQUAL's. None for domains the mapping does not describe."""
    domains = sdtm_domains()
    if name.startswith("SUPP") and name not in domains:
        return domains.get("SUPPQUAL")
    return domains.get(name)


@functools.cache
def _model_numeric() -> tuple[frozenset[str], frozenset[str]]:
    data = load("sdtm_model").get("numeric_variables") or {}
    return frozenset(data.get("names", ())), frozenset(s[2:] for s in data.get("suffixes", ()))


def model_numeric(variable: str, dataset: str) -> bool:
    """Whether the SDTM model types `variable` of `dataset` Num (mappings/sdtm_model.yaml numeric_variables):
    one of its names, or the dataset's two-letter domain prefix and one of its suffixes (DM + DY)."""
    names, suffixes = _model_numeric()
    return variable in names or (variable[:2] == dataset[:2] and variable[2:] in suffixes)


def seq_order(domain: str) -> list[str]:
    """The variables that order --SEQ within a subject (mappings/sdtm_variables.yaml `seq_order`)."""
    meta = sdtm_domain(domain)
    if meta is None or not meta.seq_order:
        raise MappingDataError(f"mappings/sdtm_variables.yaml gives no seq_order for domain {domain}")
    return list(meta.seq_order)


def dataset_label(name: str) -> str:
    """Dataset label from the SDTM metadata; SUPPxx gets "Supplemental Qualifiers for xx" (SDTMIG 8.4)."""
    meta = sdtm_domain(name)
    if meta is None:
        return name
    if name.startswith("SUPP") and meta.name == "SUPPQUAL" and len(name) > 4:
        return f"{meta.label} for {name[4:]}"
    return meta.label


def sdtmig_version() -> str:
    return str(load("sdtm_variables")["sdtmig_version"])


# --- FHIR (mappings/fhir_mapping.yaml and the official JSON Schema subsets) -----------------------------------

@functools.cache
def fhir_mapping() -> dict[str, Any]:
    """SDTM <-> FHIR mapping knowledge: code and identifier systems, extension URLs, value maps, element map."""
    return load("fhir_mapping")


@functools.cache
def fhir_json_schema(version: str) -> dict[str, Any]:
    """The subset of the official FHIR JSON Schema that msc-interop validates against ("R4B" or "R5").

    Made by scripts/extract_fhir_schema.py from the HL7 packages; see that script for what the subset keeps.
    """
    path = mappings_dir() / f"fhir_schema_{version}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingDataError(f"missing {path}; run scripts/extract_fhir_schema.py") from None


# --- reject codes (mappings/reject_codes.yaml) ----------------------------------------------------------------

@functools.cache
def reject_codes() -> dict[str, dict[str, Any]]:
    """Every reject code with its area and title (the reject report's `code` column)."""
    return dict(load("reject_codes")["codes"])
# --- Adverse-event terms (mappings/adverse_events.yaml) -------------------------------------------------------

@dataclass(frozen=True)
class AdverseEventTerms:
    """AESEV and OUT in their display order, and the AEREL convention (the AE builder and the summary share it)."""

    severity_order: tuple[str, ...]  # least to most severe
    outcome_order: tuple[str, ...]
    relationship: MappingProxyType[str, str]  # accepted input (upper case: value or spelling) -> AEREL value
    not_related: frozenset[str]  # AEREL values the summary counts as not related (an empty AEREL is not related too)


@functools.cache
def adverse_event_terms() -> AdverseEventTerms:
    """The terms of mappings/adverse_events.yaml, checked against the CT codelists they order."""
    data = load("adverse_events")
    rel = data["relationship"]
    accepted: dict[str, str] = {}
    not_related = set(rel["other_not_related"])
    for t in rel["terms"]:
        for text in (t["value"], *t.get("spellings", [])):
            if text in accepted or text in rel["other_not_related"]:
                raise MappingDataError(f"mappings/adverse_events.yaml: AEREL {text!r} is given twice")
            accepted[text] = t["value"]
            if not t["related"]:
                not_related.add(text)
    return AdverseEventTerms(_ct_order(data, "severity"), _ct_order(data, "outcome"), MappingProxyType(accepted),
                             frozenset(not_related))


def _ct_order(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """The `order` of a codelist in adverse_events.yaml: every CT term once, each with the C-code CT gives it."""
    spec = data[key]
    cl = codelist(spec["codelist"])
    where = f"mappings/adverse_events.yaml {key}"
    if cl.nci_code != spec["nci_code"]:
        raise MappingDataError(f"{where}: codelist {cl.name} is {cl.nci_code} in codelists.json, "
                               f"not {spec['nci_code']}")
    for t in spec["order"]:
        term = cl.term(t["value"])
        if term is None or term.nci_code != t["nci_code"]:
            raise MappingDataError(f"{where}: {t['value']} ({t['nci_code']}) is not a term of {cl.name} "
                                   "in codelists.json")
    values = tuple(t["value"] for t in spec["order"])
    if set(values) != cl.values:
        raise MappingDataError(f"{where}: the order must name every term of {cl.name} once; missing "
                               f"{', '.join(sorted(cl.values - set(values)))}")
    return values


def medication_dictionary() -> dict[str, dict[str, Any]]:
    """Study medication dictionary (mappings/medications.yaml): upper-cased alias, name or ATC code -> entry."""
    out: dict[str, dict[str, Any]] = {}
    for e in load("medications")["terms"]:
        for alias in (e["name"], e["atc"], *e["verbatim_aliases"]):
            out.setdefault(alias.strip().upper(), e)
    return out
