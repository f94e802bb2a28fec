"""The ADaM define.xml's codelists: each coded variable refers to a CodeList holding exactly the values of the data,
CT codes as the CDISC CT files state them (checked against the NCI EVS SDTM CT file in ../shared/external and, for
DATEFL, the ADaM Terminology 2021-12-17 rows quoted below), sponsor codelists decoded by their paired variable."""

from __future__ import annotations

import csv

import pytest
from lxml import etree

from msc_interop.sdtm.define import ODM_NS

NS = {"odm": ODM_NS, "def": "http://www.cdisc.org/ns/def/v2.1"}
CT_FILE = "external/cdisc-ct/SDTM_Terminology_2025-03-25.txt"


def _doc(out, fmt="xpt"):
    return etree.parse(str(out / fmt / "define.xml"))


def _ref(doc, ds, var):
    return doc.find(f".//odm:ItemDef[@OID='IT.{ds}.{var}']/odm:CodeListRef", NS).get("CodeListOID")


def _items(doc, oid):
    """[(coded value, term NCI code or None, decode or None)] of a CodeList, and its own NCI code."""
    cl = doc.find(f".//odm:CodeList[@OID='{oid}']", NS)
    items = []
    for i in cl:
        if i.tag in (f"{{{ODM_NS}}}EnumeratedItem", f"{{{ODM_NS}}}CodeListItem"):
            a = i.find("odm:Alias[@Context='nci:ExtCodeID']", NS)
            items.append((i.get("CodedValue"), a.get("Name") if a is not None else None,
                          i.findtext("odm:Decode/odm:TranslatedText", namespaces=NS)))
    alias = cl.find("odm:Alias", NS)
    return items, alias.get("Name") if alias is not None else None, cl


def test_flags_refer_to_ny_and_its_y_subset(adam_example):
    out, result = adam_example
    doc = _doc(out)
    for var in ("SAFFL", "ITTFL", "FASFL"):
        assert _ref(doc, "ADSL", var) == "CL.NY"
    for ds, var in (("ADAE", "TRTEMFL"), ("ADAE", "AOCCFL"), ("ADLB", "ABLFL"), ("ADLB", "ANL01FL")):
        assert _ref(doc, ds, var) == "CL.NY_Y"
    # NY is C66742 with N C49487 and Y C49488 (SDTM CT 2025-03-25, checked against the file below too)
    items, code, cl = _items(doc, "CL.NY")
    assert code == "C66742" and cl.get("{http://www.cdisc.org/ns/def/v2.1}StandardOID") == "STD.CT.SDTM"
    assert [(v, c) for v, c, _ in items] == [("N", "C49487"), ("Y", "C49488")]
    items, code, _ = _items(doc, "CL.NY_Y")
    assert code == "C66742" and [(v, c) for v, c, _ in items] == [("Y", "C49488")]
    assert set(result.adam["ADSL"]["SAFFL"]) == {"Y"} and set(result.adam["ADSL"]["ITTFL"]) == {"Y"}
    # N occurs because the example study's ADAE/AE carries AESER = N (the one AE is not serious)
    assert _ref(doc, "ADAE", "AESER") == "CL.NY"


def test_reference_range_indicators_and_paramcd(adam_example):
    out, result = adam_example
    doc = _doc(out)
    assert _ref(doc, "ADLB", "ANRIND") == _ref(doc, "ADLB", "BNRIND") == "CL.NRIND"
    items, code, _ = _items(doc, "CL.NRIND")
    assert code == "C78736"
    assert {(v, c) for v, c, _ in items} == {(v, {"LOW": "C78801", "NORMAL": "C78727", "HIGH": "C78800",
                                                  "ABNORMAL": "C78802"}[v]) for v in
                                              set(result.adam["ADLB"]["ANRIND"]) - {""}}
    assert _ref(doc, "ADLB", "PARAMCD") == "CL.PARAMCD"
    items, code, cl = _items(doc, "CL.PARAMCD")
    assert code is None and cl.get("{http://www.cdisc.org/ns/def/v2.1}StandardOID") is None  # the sponsor's
    decodes = {v: d for v, _, d in items}
    assert decodes["ALT"] == "Alanine Aminotransferase (U/L)"
    assert set(decodes) == set(result.adam["ADLB"]["PARAMCD"])


def test_every_codelist_referenced_and_every_reference_resolved(adam_example, adam_pilot):
    for out, _ in (adam_example, adam_pilot):
        for fmt in ("xpt", "json"):
            doc = _doc(out, fmt)
            lists = {c.get("OID") for c in doc.iterfind(".//odm:CodeList", NS)}
            refs = {r.get("CodeListOID") for r in doc.iterfind(".//odm:CodeListRef", NS)}
            assert lists == refs and lists


def test_pilot_age_groups_and_date_imputation_flags(adam_pilot):
    out, result = adam_pilot
    doc = _doc(out)
    items, code, _ = _items(doc, "CL.AGEGR1")
    assert code is None and [v for v, _, _ in items] == ["<65", "65-80", ">80"]  # in AGEGR1N order
    items, _, cl = _items(doc, "CL.AGEGR1N")
    assert cl.get("DataType") == "integer" and [(v, d) for v, _, d in items] == [("1", "<65"), ("2", "65-80"),
                                                                                ("3", ">80")]
    assert _ref(doc, "ADAE", "ASTDTF") == "CL.DATEFL"
    items, code, cl = _items(doc, "CL.DATEFL")
    # NCI EVS ADaM Terminology 2021-12-17: "C81223 ... Date Imputation Flag DATEFL", "C81212 C81223 ... D",
    # "C81211 C81223 ... M", "C81210 C81223 ... Y"
    assert code == "C81223" and cl.get("{http://www.cdisc.org/ns/def/v2.1}StandardOID") == "STD.CT.ADaM"
    seen = set(result.adam["ADAE"]["ASTDTF"]) | set(result.adam["ADAE"]["AENDTF"])
    assert [(v, c) for v, c, _ in items] == [(v, {"D": "C81212", "M": "C81211", "Y": "C81210"}[v])
                                            for v in sorted(seen - {""})]
    std = doc.find(".//def:Standard[@OID='STD.CT.ADaM']", NS)
    assert (std.get("PublishingSet"), std.get("Version")) == ("ADaM", "2021-12-17")


def test_sdtm_ct_codes_as_the_ct_file_states(adam_pilot, shared_dir):
    """Every NCI code of an SDTM-CT CodeList is the code the CT file gives that value in that codelist."""
    path = shared_dir / CT_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    term = {(r[1], r[4]): r[0] for r in rows[1:] if len(r) > 4 and r[1]}
    out, _ = adam_pilot
    doc = _doc(out)
    checked = 0
    for cl in doc.iterfind(".//odm:CodeList[@def:StandardOID='STD.CT.SDTM']", NS):
        code = cl.find("odm:Alias", NS).get("Name")
        for item, alias in ((i, i.find("odm:Alias", NS)) for i in cl if i.get("CodedValue") is not None):
            if alias is not None:
                value = item.get("CodedValue")
                assert term[(code, value)] == alias.get("Name"), (cl.get("OID"), value)
                checked += 1
    assert checked > 20
