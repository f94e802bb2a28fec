"""Define-XML 2.1 for a Study: the metadata document that travels with the SDTM datasets, and its XML writer.

`build_define(study)` returns the document as an lxml tree; `write_define(study, path)` writes it atomically.
The document describes the data actually present, not just the standard:

- one ItemGroupDef per dataset, one ItemDef per variable (DataType, Length and SignificantDigits measured on
  the data: sdtm/define_model.py), def:Origin from mappings/sdtm_variables.yaml, a MethodDef for every derived
  variable (its text: sdtm/define_methods.py);
- one CodeList per CDISC codelist in use, holding only the values that occur, each term with its NCI code
  (`Alias Context="nci:ExtCodeID"`); a value of an extensible codelist that CT lacks is marked
  def:ExtendedValue="Yes";
- value-level metadata for LB (LBORRES, LBSTRESN by LBTESTCD) and for SUPP-- QVAL by QNAM.

For an existing SDTM package converted between formats (StudyMeta.package, sdtm/package.py) the document
states what the package states and nothing msc-interop would claim of data it built: the package's SDTMIG and
CT versions (no CT def:Standard when the package names none), its variable order, labels and lengths, the
origins, methods and comments of its own define.xml (sdtm/package_origins.py: of its variables, datasets and
value-level items; its def:AnnotatedCRF, whose document is copied beside the define.xml written:
sdtm/define_documents.py); no MethodDef or def:Origin from msc-interop's own derivations (a USUBJID of
01-701-1015 is not STUDYID-SITEID-SUBJID); a value outside a non-extensible codelist is listed without an NCI
code and reported in `notes` instead of refusing the document.

Output is deterministic: the same Study and the same `created` give a byte-identical file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd
from lxml import etree

from msc_interop import mappings
from msc_interop.atomic import write_bytes_atomic
from msc_interop.distinct import row_codes
from msc_interop.errors import MscInteropError, UnknownFormatError
from msc_interop.sdtm.define_documents import place_documents
from msc_interop.sdtm.define_methods import lab_result_method, method_text
from msc_interop.sdtm.define_model import (
    ISO8601_KIND_PATTERNS,
    Shape,
    Variable,
    dataset_variables,
    distinct_per_test,
    nonempty_text,
    numeric_shape,
    text_shape,
)
from msc_interop.sdtm.define_package import (
    as_package_states,
    blank_dataset_labels,
    define_variables_unchecked,
    group_description,
    package_versions,
    unstated_ig_comment,
)
from msc_interop.sdtm.define_split import describe_pieces
from msc_interop.sdtm.package_origins import SponsorDefine, SponsorItem, SponsorWriter
from msc_interop.sdtm.split import Split, parent_of
from msc_interop.study import Study
from msc_interop.validate.define_versions import IG_NOT_STATED
from msc_interop.validate.standard import ig_table

__all__ = ["DATASET_FORMATS", "build_define", "to_bytes", "write_define", "xsd_errors"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

DEFINE_VERSION = "2.1.0"
# dataset file suffix per format of the datasets the define.xml points to (def:leaf xlink:href)
DATASET_FORMATS: dict[str, str] = {"xpt": ".xpt", "json": ".json"}

STD_IG = "STD.SDTMIG"
STD_CT = "STD.CT.SDTM"

# def:Origin Source per Type (Define-XML 2.1 OriginSource): CRF data come from the investigator site;
# derivations, assignments and protocol values are the sponsor's.
_ORIGIN_SOURCE = {"Collected": "Investigator", "Derived": "Sponsor", "Assigned": "Sponsor", "Protocol": "Sponsor"}
# SUPP-- QORIG values (SDTMIG 3.4 section 8.4) -> (def:Origin Type, Source)
_QORIG = {"CRF": ("Collected", "Investigator"), "COLLECTED": ("Collected", "Investigator"),
          "EDT": ("Collected", "Vendor"), "ASSIGNED": ("Assigned", "Sponsor"),
          "DERIVED": ("Derived", "Sponsor"), "PROTOCOL": ("Protocol", "Sponsor")}

# LB variables that get value-level metadata by LBTESTCD
_LB_VLM = ("LBORRES", "LBSTRESN")


# --- XML helpers --------------------------------------------------------------------------------------------

def _odm(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _def(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _el(parent: etree._Element, tag: str, attrs: dict[str, str | None] | None = None,
        text: str | None = None) -> etree._Element:
    e = etree.SubElement(parent, tag, {k: v for k, v in (attrs or {}).items() if v is not None})
    if text is not None:
        e.text = text
    return e


def _description(parent: etree._Element, text: str, tag: str = "Description") -> None:
    _el(_el(parent, _odm(tag)), _odm("TranslatedText"), {_XML_LANG: "en"}, text)


def _origin(parent: etree._Element, origin_type: str, source: str | None) -> None:
    _el(parent, _def("Origin"), {"Type": origin_type, "Source": source})


def _shape_attrs(shape: Shape) -> dict[str, str | None]:
    return {
        "DataType": shape.datatype,
        "Length": str(shape.length) if shape.length is not None else None,
        "SignificantDigits": str(shape.digits) if shape.digits is not None else None,
    }


def _check_created(created: str | None) -> str:
    if created is None:
        return datetime.now(UTC).replace(microsecond=0).isoformat()
    if not re.fullmatch(ISO8601_KIND_PATTERNS["datetime"], created):
        raise MscInteropError(f"created={created!r} is not an ISO 8601 date-time with seconds as ODM "
                              "CreationDateTime needs (e.g. 2025-03-25T10:00:00 or 2025-03-25T10:00:00+00:00)")
    return created


def _package_version() -> str:
    try:
        return importlib_metadata.version("msc-interop")
    except importlib_metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


# --- the document -----------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, study: Study, dataset_format: str, created: str,
                 xpt_encoding: Callable[[str], str] | None = None):
        self.study = study
        self.xpt_encoding = xpt_encoding  # dataset -> encoding of its XPT text as written
        self.suffix = DATASET_FORMATS[dataset_format]
        self.created = created
        self.item_defs: list[etree._Element] = []
        self.vlm_item_defs: dict[str, etree._Element] = {}
        self.value_lists: dict[str, etree._Element] = {}
        self.where_clauses: dict[str, etree._Element] = {}
        self.methods: dict[str, tuple[str, str]] = {}
        self.value_list_of: dict[str, str] = {}  # parent ItemDef OID -> ValueListDef OID
        self.codelist_values: dict[str, set[str]] = {}
        self.decodes: dict[str, dict[str, str]] = {}
        self.package = getattr(study.meta, "package", None)  # an existing package: state only what it states
        self.notes: list[str] = []
        self.label_from: dict[str, str] = {}  # dataset -> where its define.xml label comes from (a blank one's note)
        self.unchecked: list[str] = []  # standard datasets whose variables msc-interop cannot tell standard or not
        self.ct_standard = True
        self.sponsor = SponsorWriter(self.package.define if self.package else SponsorDefine(),
                                     (f"LF.{ds}" for ds in study.names), self.notes)

    def collect_codelists(self, variables: dict[str, list[Variable]]) -> None:
        for ds, vs in variables.items():
            df = self.study[ds]
            for v in vs:
                if v.codelist:
                    self.codelist_values.setdefault(v.codelist, set()).update(nonempty_text(df[v.name]))
                # --TESTCD decodes: the paired --TEST of the same record (covers sponsor-extended codes too)
                if v.codelist and v.name.endswith("TESTCD") and v.name[:-2] in df.columns:
                    pairs = df[[v.name, v.name[:-2]]]  # each distinct pair once (from the columns' codes)
                    pairs = pairs.iloc[row_codes(pairs)[1]].sort_values([v.name, v.name[:-2]])
                    dec = self.decodes.setdefault(v.codelist, {})
                    for code, name in pairs.itertuples(index=False):
                        if code and name:
                            dec.setdefault(code, name)

    def build(self) -> etree._ElementTree:
        study, meta = self.study, self.study.meta
        root = etree.Element(_odm("ODM"), nsmap=_NSMAP)
        for k, val in {
            "ODMVersion": "1.3.2", "FileType": "Snapshot",
            "FileOID": f"{meta.studyid}.SDTM.Define-XML_{DEFINE_VERSION}",
            "CreationDateTime": self.created, "Originator": "msc-interop", "SourceSystem": "msc-interop",
            "SourceSystemVersion": _package_version(), _def("Context"): "Submission",
        }.items():
            root.set(k, val)
        st = _el(root, _odm("Study"), {"OID": f"STDY.{meta.studyid}"})
        gv = _el(st, _odm("GlobalVariables"))
        _el(gv, _odm("StudyName"), text=meta.studyid)
        _el(gv, _odm("StudyDescription"), text=meta.title or meta.studyid)
        _el(gv, _odm("ProtocolName"), text=meta.protocol or meta.studyid)
        ig_version = meta.sdtmig_version or mappings.sdtmig_version()
        ct_version = meta.ct_package or mappings.ct_source().get("package_date", "")
        if self.package is not None:
            ig_version, ct_version = package_versions(self.package, ig_version, self.notes)
        elif not ct_version:
            raise MscInteropError("the study has no CDISC CT package date (StudyMeta.ct_package); Define-XML 2.1 "
                                  "must name the CT version: re-run scripts/extract_ct.py or set ct_package")
        ig_unstated = self.package is not None and not self.package.sdtmig  # stated as what it was checked against
        mdv = _el(st, _odm("MetaDataVersion"), {
            "OID": meta.metadata_version_oid(),
            "Name": f"{meta.studyid} SDTM metadata",
            "Description": f"Data definitions for the SDTM datasets of {meta.studyid} (SDTMIG {ig_version}, "
                           f"CDISC CT {ct_version}), written by msc-interop" if self.package is None else
                           f"Data definitions of the SDTM package of {meta.studyid} as its datasets state them "
                           f"(SDTMIG {'not stated by the package, named as ' if ig_unstated else ''}{ig_version}, "
                           f"CDISC CT {ct_version or 'not stated by the package'}), written "
                           "by msc-interop converting its files; origins, derivations and comments as the "
                           "package's define.xml states them",
            _def("DefineVersion"): DEFINE_VERSION,
        })
        stds = _el(mdv, _def("Standards"))
        _el(stds, _def("Standard"), {"OID": STD_IG, "Name": "SDTMIG", "Type": "IG", "Version": ig_version,
                                     "Status": "Final", _def("CommentOID"): IG_NOT_STATED if ig_unstated else None})
        if ct_version:
            _el(stds, _def("Standard"), {"OID": STD_CT, "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": "SDTM",
                                         "Version": ct_version, "Status": "Final"})
        self.ct_standard = bool(ct_version)
        self.sponsor.write_documents(mdv, (ODM_NS, DEF_NS))  # the package's aCRF (def:AnnotatedCRF) and others

        names = _dataset_order(study.names)
        variables = {ds: self.as_package_states(ds, dataset_variables(self.study, ds)) for ds in names}
        self.collect_codelists(variables)
        self.lab_value_level()
        self.supp_value_level()
        self.sponsor.note_values_not_carried(names)
        # value lists and where clauses come before the item groups (Define-XML 2.1 element order)
        for oid in sorted(self.value_lists):
            mdv.append(self.value_lists[oid])
        for oid in sorted(self.where_clauses):
            mdv.append(self.where_clauses[oid])
        for ds in names:
            self.item_group(mdv, ds, variables[ds])
        if self.package is not None:
            blank_dataset_labels(self.package, names, self.label_from, self.notes)
        if self.unchecked:
            self.notes.append(define_variables_unchecked(self.unchecked))
        for e in self.item_defs:
            mdv.append(e)
        for oid in sorted(self.vlm_item_defs):
            mdv.append(self.vlm_item_defs[oid])
        for name in sorted(self.codelist_values):
            if self.codelist_values[name]:
                self.codelist(mdv, name)
        for oid in sorted(self.methods):
            name, text = self.methods[oid]
            m = _el(mdv, _odm("MethodDef"), {"OID": oid, "Name": name, "Type": "Computation"})
            _description(m, text)
        self.sponsor.write_methods(mdv, (ODM_NS, DEF_NS))
        if ig_unstated:
            _description(_el(mdv, _def("CommentDef"), {"OID": IG_NOT_STATED}), unstated_ig_comment(ig_version))
        self.sponsor.write_comments_and_leaves(mdv, (ODM_NS, DEF_NS))
        return etree.ElementTree(root)

    def as_package_states(self, ds: str, variables: list[Variable]) -> list[Variable]:
        """The variables as the package states them and the files beside this define.xml hold them (as they are,
        if no package): sdtm/define_package.py."""
        lay = self.package.layouts.get(ds) if self.package is not None else None
        if lay is None:
            return variables
        encoding = self.xpt_encoding(ds) if self.suffix == ".xpt" and self.xpt_encoding else "utf-8"
        return as_package_states(ds, variables, lay, self.study[ds], self.notes, encoding)

    def add_method(self, ds: str, var: str, label: str, *, test: str = "", text: str = "") -> str | None:
        """MethodDef MT.<DS>.<VAR> (MT.<DS>.<VAR>.<TEST> for a value-level derivation); returns its OID.
        None for an existing package: msc-interop did not derive its data and does not know how they were."""
        if self.package is not None:
            return None
        oid = f"MT.{ds}.{var}" + (f".{test}" if test else "")
        name = f"Algorithm to derive {ds}.{var}" + (f" where LBTESTCD is {test}" if test else "")
        self.methods[oid] = (name, text or method_text(ds, var, label))
        return oid

    def item_group(self, mdv: etree._Element, ds: str, variables: list[Variable]) -> None:
        own = parent_of(ds, self.study[ds])  # a split piece (LBCH) is described as its domain (LB)
        meta = mappings.sdtm_domain(own)
        supp = ds.startswith("SUPP")
        has_rows = len(self.study[ds]) > 0
        domain = own[4:] if supp else own
        about = group_description(ds, own, meta.structure if meta else None,
                                  mappings.dataset_label(ds) if meta else None,
                                  self.package.stated if self.package is not None else {})
        self.notes += [n for n in about.notes if n not in self.notes]
        cls = meta.cls if meta is not None and not supp else about.cls
        # a variable the standard does not define is marked where the domain's variables are known: msc-interop's
        # metadata or its SDTMIG table (QS, SC have neither here: define_variables_unchecked says so)
        checked = about.standard and (meta is not None or ig_table(own) is not None)
        if about.standard and not checked:
            self.unchecked.append(ds)
        ig = _el(mdv, _odm("ItemGroupDef"), {
            "OID": f"IG.{ds}", "Name": ds, "Repeating": "No" if ds == "DM" else "Yes",
            # trial design datasets describe the study, not subjects: reference data (CDISC's MSG v2.0 define.xml)
            "IsReferenceData": "Yes" if meta is not None and cls == "TRIAL DESIGN" else about.reference,
            "SASDatasetName": ds, "Domain": domain, "Purpose": "Tabulation",
            _def("Structure"): about.structure,
            _def("StandardOID"): STD_IG if about.standard else None,
            _def("IsNonStandard"): None if about.standard else "Yes",
            _def("HasNoData"): None if has_rows else "Yes",
            _def("ArchiveLocationID"): f"LF.{ds}" if has_rows else None,
            _def("CommentOID"): self.sponsor.dataset_comment(ds),
        })
        parent = mappings.sdtm_domain(domain) if supp else None
        lay = self.package.layouts.get(ds) if self.package is not None else None
        label = lay.label if lay is not None and lay.label else about.label
        self.label_from[ds] = about.label_from
        _description(ig, label)
        for order, v in enumerate(variables, start=1):
            method = None
            if v.origin == "Derived":
                method = self.add_method(ds, v.name, v.label)
            method = method or self.sponsor.method_oid(v.sponsor)
            _el(ig, _odm("ItemRef"), {
                "ItemOID": f"IT.{ds}.{v.name}", "OrderNumber": str(order), "Mandatory": "Yes" if v.mandatory else "No",
                "KeySequence": str(v.key_seq) if v.key_seq else None, "MethodOID": method, "Role": v.role,
                _def("IsNonStandard"): "Yes" if checked and not v.standard else None,
                _def("HasNoData"): None if v.shape.has_data or not has_rows else "Yes",
            })
            self.item_defs.append(self.item_def(v))
        if supp and parent is not None:
            _el(ig, _odm("Alias"), {"Context": "DomainDescription", "Name": parent.label})
        if cls:
            _el(ig, _def("Class"), {"Name": cls})
        if has_rows:
            href = ds.lower() + self.suffix
            leaf = _el(ig, _def("leaf"), {"ID": f"LF.{ds}", f"{{{XLINK_NS}}}href": href})
            _el(leaf, _def("title"), text=href)

    def item_def(self, v: Variable) -> etree._Element:
        e = etree.Element(_odm("ItemDef"), {"OID": f"IT.{v.ds}.{v.name}", "Name": v.name})
        for k, val in _shape_attrs(v.shape).items():
            if val is not None:
                e.set(k, val)
        e.set("SASFieldName", v.name)
        _description(e, v.label)
        if v.codelist and self.codelist_values.get(v.codelist):
            _el(e, _odm("CodeListRef"), {"CodeListOID": f"CL.{v.codelist}"})
        if v.origin:
            _origin(e, v.origin, _ORIGIN_SOURCE.get(v.origin))
        self.sponsor.item_def(e, v.sponsor, (ODM_NS, DEF_NS))
        vl = self.value_list_of.get(f"IT.{v.ds}.{v.name}")
        if vl:
            _el(e, _def("ValueListRef"), {"ValueListOID": vl})
        return e

    def codelist(self, mdv: etree._Element, name: str) -> None:
        cl = mappings.codelist(name)
        decodes = self.decodes.get(name)
        cle = _el(mdv, _odm("CodeList"), {"OID": f"CL.{name}", "Name": cl.long_name, "DataType": "text",
                                          _def("StandardOID"): STD_CT if self.ct_standard else None})
        for order, value in enumerate(sorted(self.codelist_values[name]), start=1):
            term = cl.term(value)
            if term is None and not cl.extensible and self.package is not None:
                self.notes.append(
                    f"define.xml: {self.where_used(name, value)} holds {value!r}, not a term of the non-extensible "
                    f"CDISC codelist {name} ({cl.nci_code}) in the CT msc-interop holds "
                    f"({mappings.ct_source().get('package_date', '')}): kept as it is and listed in CodeList "
                    f"CL.{name} without an NCI code")
            elif term is None and not cl.extensible:
                raise MscInteropError(
                    f"value {value!r} is not a term of the non-extensible CDISC codelist {name} ({cl.nci_code}, "
                    f"CT {self.study.meta.ct_package}); allowed: {', '.join(sorted(cl.values))}. Fix the data: "
                    "Define-XML cannot describe it as a CT value or as a sponsor extension")
            attrs = {"CodedValue": value, "OrderNumber": str(order),
                     _def("ExtendedValue"): "Yes" if term is None and cl.extensible else None}
            if decodes is not None:
                item = _el(cle, _odm("CodeListItem"), attrs)
                _description(item, decodes.get(value, value), tag="Decode")
            else:
                item = _el(cle, _odm("EnumeratedItem"), attrs)
            if term is not None:
                _el(item, _odm("Alias"), {"Context": "nci:ExtCodeID", "Name": term.nci_code})
        _el(cle, _odm("Alias"), {"Context": "nci:ExtCodeID", "Name": cl.nci_code})

    # --- value-level metadata ---

    def where_clause(self, ds: str, var: str, value: str) -> str:
        oid = f"WC.{ds}.{var}.{value}"
        if oid not in self.where_clauses:
            wc = etree.Element(_def("WhereClauseDef"), {"OID": oid})
            rc = _el(wc, _odm("RangeCheck"), {"Comparator": "EQ", "SoftHard": "Soft",
                                              _def("ItemOID"): f"IT.{ds}.{var}"})
            _el(rc, _odm("CheckValue"), text=value)
            self.where_clauses[oid] = wc
        return oid

    def where_used(self, codelist: str, value: str) -> str:
        """'DM.RACE (dm.xpt)': the variables of this codelist that hold the value."""
        used = [f"{ds}.{col}" for ds in self.study.names for col in self.study[ds].columns
                if (v := (mappings.sdtm_domain(ds).by_name.get(col) if mappings.sdtm_domain(ds) else None))
                and v.codelist == codelist and (self.study[ds][col] == value).any()]
        return ", ".join(used) or f"a variable of codelist {codelist}"

    def vlm_item(self, oid: str, name: str, shape: Shape, description: str, origin: tuple[str, str | None],
                 ours: bool = True, sponsor: SponsorItem | None = None) -> None:
        """A value-level ItemDef; `sponsor`: what the package's define.xml says of it (its origins win)."""
        e = etree.Element(_odm("ItemDef"), {"OID": oid, "Name": name})
        for k, val in _shape_attrs(shape).items():
            if val is not None:
                e.set(k, val)
        e.set("SASFieldName", name)
        _description(e, description)
        if (self.package is None or not ours) and not (sponsor and sponsor.origins):  # a package's SUPP-- QORIG is
            _origin(e, *origin)  # its own, unless its define.xml says more; the LB origins are msc-interop's
        self.sponsor.item_def(e, sponsor, (ODM_NS, DEF_NS))
        self.vlm_item_defs[oid] = e

    def value_list(self, ds: str, var: str) -> etree._Element:
        oid = f"VL.{ds}.{var}"
        self.value_list_of[f"IT.{ds}.{var}"] = oid
        vl = self.value_lists[oid] = etree.Element(_def("ValueListDef"), {"OID": oid})
        return vl

    def lab_value_level(self) -> None:
        if "LB" not in self.study or "LBTESTCD" not in self.study["LB"].columns:
            return
        lb = self.study["LB"]
        lb_meta = mappings.sdtm_domain("LB")
        known = lb_meta.by_name if lb_meta else {}
        tests = nonempty_text(lb["LBTESTCD"])
        if not tests:
            return
        read = [c for c in lb.columns if c in {"LBTEST", "LBLOINC", "LBSTRESU", "LBORRESU", *_LB_VLM}]
        by_test = distinct_per_test(lb, read)
        lab = mappings.lab_tests()
        for var in (v for v in _LB_VLM if v in lb.columns):
            vdef = known.get(var)
            origin = vdef.origin if vdef else ("Derived" if var == "LBSTRESN" else "Collected")
            vl = self.value_list("LB", var)
            for order, test in enumerate(tests, start=1):
                rows = by_test[test]
                name = _first(rows, "LBTEST") or (lab[test].test if test in lab else test)
                loinc = ", ".join(nonempty_text(rows["LBLOINC"])) if "LBLOINC" in rows else ""
                loinc = loinc or (lab[test].loinc if test in lab else "")
                loinc_text = f"; LOINC {loinc}" if loinc else ""
                if var == "LBSTRESN":
                    shape = numeric_shape(rows[var], "float")
                    unit = _first(rows, "LBSTRESU") or (lab[test].standard_unit if test in lab else "")
                    description = f"{name} ({test}): numeric result in the standard unit {unit}{loinc_text}"
                    method = self.lab_method(test, rows)
                else:
                    shape = text_shape(nonempty_text(rows[var]))
                    units = ", ".join(nonempty_text(rows["LBORRESU"])) if "LBORRESU" in rows else ""
                    description = f"{name} ({test}): result as collected, in {units or 'no unit'}{loinc_text}"
                    method = None
                item_oid = f"IT.LB.{var}.{test}"
                sponsor = self.sponsor.value_item("LB", var, "LBTESTCD", test) if self.package else None
                self.vlm_item(item_oid, var, shape, description, (origin, _ORIGIN_SOURCE.get(origin)), sponsor=sponsor)
                ref = _el(vl, _odm("ItemRef"), {
                    "ItemOID": item_oid, "OrderNumber": str(order), "Mandatory": "No",
                    "MethodOID": method or self.sponsor.method_oid(sponsor),
                    _def("HasNoData"): None if shape.has_data else "Yes",
                })
                _el(ref, _def("WhereClauseRef"), {"WhereClauseOID": self.where_clause("LB", "LBTESTCD", test)})

    def lab_method(self, test: str, rows: pd.DataFrame) -> str:
        """Per-test LBSTRESN derivation naming the conversion factor of each original unit present."""
        text = lab_result_method(test, nonempty_text(rows["LBORRESU"]) if "LBORRESU" in rows else [])
        if text is None:
            return self.add_method("LB", "LBSTRESN", "Numeric Result/Finding in Standard Units")
        return self.add_method("LB", "LBSTRESN", "", test=test, text=text)

    def supp_value_level(self) -> None:
        for ds in self.study.names:
            df = self.study[ds]
            if not ds.startswith("SUPP") or not {"QNAM", "QVAL"} <= set(df.columns) or df.empty:
                continue
            vl = self.value_list(ds, "QVAL")
            for order, qnam in enumerate(nonempty_text(df["QNAM"]), start=1):
                rows = df[df["QNAM"] == qnam]
                qorig = (_first(rows, "QORIG") or "CRF").upper()
                origin = _QORIG.get(qorig, ("Collected", "Investigator"))
                item_oid = f"IT.{ds}.QVAL.{qnam}"
                label = _first(rows, "QLABEL") or qnam
                sponsor = self.sponsor.value_item(ds, "QVAL", "QNAM", qnam) if self.package else None
                self.vlm_item(item_oid, qnam, text_shape(nonempty_text(rows["QVAL"])), label, origin, ours=False,
                              sponsor=sponsor)
                method = self.add_method(ds, qnam, label) if origin[0] == "Derived" else None
                method = method or self.sponsor.method_oid(sponsor)
                ref = _el(vl, _odm("ItemRef"), {"ItemOID": item_oid, "OrderNumber": str(order), "Mandatory": "Yes",
                                                "MethodOID": method})
                _el(ref, _def("WhereClauseRef"), {"WhereClauseOID": self.where_clause(ds, "QNAM", qnam)})


# datasets in the order reviewers expect: by SDTM class, then by name (CDISC's example define.xml does the same)
_CLASS_ORDER = ["TRIAL DESIGN", "SPECIAL PURPOSE", "INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT",
                "RELATIONSHIP", "STUDY REFERENCE"]


def _dataset_order(names: Iterable[str]) -> list[str]:
    def key(ds: str) -> tuple[int, str]:
        meta = mappings.sdtm_domain(ds)
        cls = "RELATIONSHIP" if ds.startswith("SUPP") else (meta.cls if meta else "")
        return (_CLASS_ORDER.index(cls) if cls in _CLASS_ORDER else len(_CLASS_ORDER), ds)

    return sorted(names, key=key)


def _first(df: pd.DataFrame | Mapping[str, pd.Series], col: str) -> str:
    """The first (smallest) non-empty text value of a column ("" when none or no such column)."""
    if col not in df:
        return ""
    values = nonempty_text(df[col])
    return values[0] if values else ""


# --- public API -------------------------------------------------------------------------------------------

def build_define(study: Study, *, dataset_format: str = "xpt", created: str | None = None,
                 notes: list[str] | None = None, xpt_encoding: Callable[[str], str] | None = None,
                 documents: list[tuple[str, str, str]] | None = None) -> etree._ElementTree:
    """The Define-XML 2.1 document describing the study's SDTM datasets (pure: reads only the Study and mappings).

    `dataset_format` is the format of the dataset files the document points to ("xpt" or "json");
    `created` pins ODM CreationDateTime (ISO 8601 with seconds) for reproducible output, else now (UTC);
    `xpt_encoding`: dataset -> encoding of its XPT text (a package's lengths as the XPT files hold them);
    `documents` is given the (def:leaf ID, href, title) of each document of the package's define.xml it cites.

    >>> tree = build_define(study, created="2025-03-25T00:00:00")          # doctest: +SKIP
    >>> tree.getroot().get("{http://www.cdisc.org/ns/def/v2.1}Context")    # doctest: +SKIP
    'Submission'
    """
    if dataset_format not in DATASET_FORMATS:
        raise UnknownFormatError(f"dataset format {dataset_format!r} is not known for Define-XML def:leaf; "
                                 f"use one of: {', '.join(DATASET_FORMATS)}")
    builder = _Builder(study, dataset_format, _check_created(created), xpt_encoding)
    tree = builder.build()
    if notes is not None:
        notes.extend(builder.notes)
    if documents is not None:
        documents.extend(builder.sponsor.documents())
    return tree


def to_bytes(tree: etree._ElementTree) -> bytes:
    """Pretty-printed UTF-8 with an XML declaration."""
    body = etree.tostring(tree.getroot(), encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def write_define(study: Study, path: Path, *, dataset_format: str = "xpt", created: str | None = None,
                 split: Split | None = None) -> list[str]:
    """Write define.xml for the study to `path` (all-or-nothing); return the notes on what it could not state
    as the data are (an existing package's values outside CT, versions the package does not state).
    `split`: the datasets written split (sdtm/split.py), each piece described as its own ItemGroupDef.

    >>> write_define(study, Path("out/define.xml"), created="2025-03-25T00:00:00")  # doctest: +SKIP
    """
    document, notes, documents = define_document(study, dataset_format=dataset_format, created=created, split=split)
    write_bytes_atomic(path, document)
    return notes + place_documents(study, documents, path.parent, [path])[1]


def define_document(study: Study, *, dataset_format: str = "xpt", created: str | None = None,
                    split: Split | None = None, xpt_encoding: Callable[[str], str] | None = None
                    ) -> tuple[bytes, list[str], list[tuple[str, str, str]]]:
    """The bytes write_define writes, its notes, and the package's documents it cites (def:leaf ID, href, title:
    sdtm/define_documents.place_documents puts them beside it); sdtm_output.write_sdtm builds the document before
    writing it."""
    notes: list[str] = []
    documents: list[tuple[str, str, str]] = []
    tree = build_define(study, dataset_format=dataset_format, created=created, notes=notes, xpt_encoding=xpt_encoding,
                        documents=documents)
    if split is not None and split.pieces:
        describe_pieces(tree, split.pieces, DATASET_FORMATS[dataset_format], split.supp_labels)
    return to_bytes(tree), notes, documents


def xsd_errors(document: etree._ElementTree | str | Path, schema: str | Path) -> list[str]:
    """Messages of the Define-XML XSD check ("line N: message"); empty when the document is valid.

    `schema` is the entry XSD (cdisc-definexml-2.1.0/define2-1-0.xsd), loaded from its path so that its
    relative imports of the ODM 1.3.2 schemas resolve. Parsing refuses entities and network access.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    xsd = etree.XMLSchema(etree.parse(str(schema), parser))
    doc = document if isinstance(document, etree._ElementTree) else etree.parse(str(document), parser)
    if xsd.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
