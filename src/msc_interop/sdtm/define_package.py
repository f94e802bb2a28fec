"""What define.xml states of an existing SDTM package converted between formats (sdtm/package.py): its SDTMIG
and CT versions, its variable order, labels and lengths, each as the files written beside the define.xml hold
them, and a note for what the package does not state.

Lengths: a text variable's Length is the package's own length, or more where the written file needs more (a
value of Windows-1252 text written to UTF-8 takes more bytes: `--xpt-encoding utf-8`; Dataset-JSON is UTF-8),
as the XPT writer (sdtm/xpt_rows.storage_widths) and the Dataset-JSON writer size them.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from msc_interop import mappings
from msc_interop.distinct import column_codes
from msc_interop.sdtm.define_model import Variable
from msc_interop.sdtm.package import DatasetLayout, DatasetStated, Package, package_keys
from msc_interop.sdtm.xpt_text import is_utf8
from msc_interop.validate.standard import class_name, sdtm_class

UNDESCRIBED = "Not described by the msc-interop SDTM metadata"


@dataclasses.dataclass(frozen=True)
class GroupDescription:
    """What an ItemGroupDef says of its dataset beyond its variables: def:Structure, def:Class (None: unknown),
    IsReferenceData, whether it is a standard dataset (def:StandardOID, no def:IsNonStandard), its label when the
    dataset file has none (and where that comes from, as a note says it), and notes of what differs from the
    package's define.xml."""

    structure: str
    cls: str | None
    reference: str
    standard: bool
    label: str
    label_from: str
    notes: tuple[str, ...] = ()


def group_description(ds: str, domain: str, meta_structure: str | None, meta_label: str | None,
                      stated: dict[str, DatasetStated]) -> GroupDescription:
    """How define.xml describes dataset `ds` of `domain` (a split piece: its domain; SUPP--: itself), from
    msc-interop's metadata of the domain (`meta_*`, None where it has none) and what the package's own define.xml
    states (`stated`: dataset -> DatasetStated; {} without one).

    Why: an SDTMIG domain msc-interop does not build (QS, SC, IE, SE, ...) is still a standard domain with an SDTM
    class (mappings/sdtm_model.yaml's SDTMIG domain list): written as a non-standard dataset "not described", a
    define.xml viewer and validator would take QS for a sponsor's own. What the package states is kept as its
    file labels are: its Structure; its label (the file's own, where it has one, comes first: define.py); a
    Define-XML 2.1 package's def:StandardOID / def:IsNonStandard (a domain code the SDTMIG list lacks, BS, OI, or
    a sponsor's own domain coded like an SDTMIG one); its class where msc-interop knows none (a sponsor domain,
    STUDY REFERENCE). The SDTMIG list holds no versions: without such a statement a domain on it is called
    standard for a study of any SDTMIG version."""
    mine, of_domain = stated.get(ds), stated.get(domain) if domain != ds else None
    said = mine or of_domain or DatasetStated()
    known, _ = sdtm_class(domain)
    claimed = class_name(said.cls) if said.cls else ""
    cls = known or (claimed if claimed in _tabulation_classes() else None)
    notes = ()
    if known and claimed and claimed != known:
        notes = (f"define.xml: the package's define.xml gives {ds} def:Class \"{said.cls}\"; written as the SDTM "
                 f"class of {domain}, {known} (SDTMIG domain list, mappings/sdtm_model.yaml)",)
    standard = meta_structure is not None or (said.standard if said.standard is not None else known is not None)
    if cls in ("TRIAL DESIGN", "STUDY REFERENCE"):
        reference = "Yes"
    else:
        reference = said.reference if meta_structure is None and said.reference in ("Yes", "No") else "No"
    if mine is not None and mine.label:
        label, label_from = mine.label, "the label the package's define.xml gives it"
    elif meta_label:
        label, label_from = meta_label, "its SDTM label"
    elif of_domain is not None and of_domain.label:
        label = f"{of_domain.label} ({ds})"
        label_from = f"the label the package's define.xml gives its domain {domain}, with its name"
    else:
        label, label_from = ds, "its name (neither msc-interop's metadata nor the package's define.xml gives a label)"
    return GroupDescription(said.structure or meta_structure or UNDESCRIBED, cls, reference, standard, label,
                            label_from, notes)


def define_variables_unchecked(datasets: list[str]) -> str:
    """The note for standard datasets whose variables are not marked def:IsNonStandard because msc-interop holds
    no SDTMIG variable table of their domain (mappings/sdtmig_domains.yaml)."""
    return (f"define.xml: msc-interop holds no SDTMIG variable table of {', '.join(datasets)}: no variable of "
            f"{'it' if len(datasets) == 1 else 'them'} is marked def:IsNonStandard (a sponsor variable among them is "
            f"not told apart; SUPP-- is where SDTMIG 8.4 puts one)")


def _tabulation_classes() -> frozenset[str]:
    """The def:Class names of an SDTM dataset (mappings/define_xml.yaml tabulation_classes)."""
    return frozenset(mappings.load("define_xml")["tabulation_classes"])


def package_versions(pkg: Package, ig_default: str, notes: list[str]) -> tuple[str, str]:
    """(SDTMIG, CT) versions of an existing package; a note for each it does not state.

    A version the package does not state is not claimed for it: CT, which Define-XML may leave out, is not named;
    the SDTMIG, which Define-XML 2.1 must name (def:Standard Version is required), is the version msc-interop
    checks the datasets against, with a def:CommentDef on it saying the package does not state one, and the
    MetaDataVersion OID (Dataset-JSON's metaDataVersionOID) says UNSTATED (StudyMeta.metadata_version_oid)."""
    if pkg.sdtmig:
        ig = pkg.sdtmig
    else:
        ig = ig_default
        notes.append(f"define.xml: the package states no SDTMIG version (no define.xml beside it saying one, no TS "
                     f"SDTIGVER); Define-XML 2.1 must name one: define.xml names SDTMIG {ig}, the version msc-interop "
                     f"checks against, with a comment that the package does not state it, and its MetaDataVersion "
                     f"(Dataset-JSON metaDataVersionOID) is UNSTATED")
    if not pkg.ct:
        notes.append("define.xml: the package states no SDTM CT version (no define.xml beside it names one); "
                     "define.xml names none either, and its codelists list the values present")
    return ig, pkg.ct or ""


def unstated_ig_comment(ig: str) -> str:
    """The def:CommentDef text of the SDTMIG def:Standard of a package that states no SDTMIG version."""
    return (f"The SDTM package converted states no SDTMIG version (no define.xml, no TS SDTIGVER). SDTMIG {ig} "
            "is the version msc-interop checked the datasets against, not the sponsor's statement.")


def as_package_states(ds: str, variables: list[Variable], lay: DatasetLayout, data: pd.DataFrame,
                      notes: list[str], encoding: str = "utf-8") -> list[Variable]:
    """The variables in the package's order, with its labels, character lengths, keys (KeySequence: its
    define.xml's, else the SDTMIG's) and its define.xml's origins, methods and comments. `encoding`: of the
    text in the dataset files described (XPT: as written, --xpt-encoding; Dataset-JSON: UTF-8)."""
    by_name = {v.name: v for v in variables}
    order = [by_name[c] for c in lay.columns if c in by_name] + [v for v in variables if v.name not in lay.columns]
    blank = [v for v in order if lay.labels.get(v.name) == ""]
    if blank:  # XPT v5 allows a blank label; Define-XML describes every variable (the files keep it blank)
        said = ", ".join(f"{ds}.{v.name} as {v.label!r}" for v in blank)
        notes.append(f"define.xml: {lay.source} gives {len(blank)} variable(s) a blank label; define.xml "
                     f"describes {said} (the SDTM metadata's label, else the variable's name); the "
                     "dataset files keep the blank label as the package has it")
    keys = package_keys(lay, by_name)  # the package's own keys, when it states them (as its Dataset-JSON gets)
    out = []
    for v in order:
        if keys:
            v = dataclasses.replace(v, key_seq=keys.index(v.name) + 1 if v.name in keys else None)
        shape = v.shape
        if shape.datatype == "text" and v.name in lay.lengths:
            shape = dataclasses.replace(shape, length=max(lay.lengths[v.name], _bytes(data, v, encoding)))
        stated = lay.types.get(v.name) if lay.json_columns else lay.define_types.get(v.name)
        if stated == "integer" and shape.datatype == "float" and shape.digits:
            # values with a fraction (the pilot's CMDOSE 0.625, "integer" in its define.xml): Define-XML 2.1's
            # integer holds whole numbers only, and the Dataset-JSON beside it says float (datasetjson.py)
            notes.append(f"define.xml: {ds}.{v.name}: the package's define.xml gives DataType integer, but the data "
                         f"hold numbers with a fraction ({shape.digits} decimal place(s)); written as float, as the "
                         "dataset files state it")
            stated = "float"
        if shape.datatype in ("integer", "float") and stated in ("integer", "float") and stated != shape.datatype:
            # the package's own numeric type (XPT has one; Dataset-JSON or define.xml said which)
            shape = dataclasses.replace(shape, datatype=stated, digits=shape.digits if stated == "float" else None)
        # not msc-interop's def:Origin (it says how msc-interop fills a variable), the sponsor's own, if stated
        out.append(dataclasses.replace(v, label=lay.labels.get(v.name) or v.label, shape=shape, origin=None,
                                       sponsor=lay.sponsor.get(v.name)))
    return out


def _bytes(data: pd.DataFrame, v: Variable, encoding: str) -> int:
    """The longest value of a text variable in bytes of `encoding` (UTF-8: as measured for its shape)."""
    if is_utf8(encoding) or v.name not in data.columns:
        return v.shape.length or 0
    return max((len(u.encode(encoding)) for u in column_codes(data[v.name])[1] if isinstance(u, str)), default=0)


def blank_dataset_labels(pkg: Package, names: list[str], label_from: dict[str, str], notes: list[str]) -> None:
    """A note naming the datasets whose label the package leaves blank, by what define.xml describes them with
    instead (`label_from`: dataset -> GroupDescription.label_from)."""
    blank = [ds for ds in names if ds in pkg.layouts and pkg.layouts[ds].label == ""]  # (None: states none, as CSV)
    by_source: dict[str, list[str]] = {}
    for ds in blank:
        by_source.setdefault(label_from.get(ds, "its SDTM label"), []).append(ds)
    if blank:
        said = "; ".join(f"{', '.join(sets)} by {source}" if len(by_source) > 1 else f"each by {source}"
                         for source, sets in by_source.items())
        notes.append(f"define.xml: the package gives {len(blank)} dataset(s) a blank label ({', '.join(blank)}); "
                     f"define.xml describes {said}; the dataset files keep it blank")
