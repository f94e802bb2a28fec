"""define.xml for split datasets (sdtm/split.py): one ItemGroupDef per piece in place of its parent's.

Define-XML 2.1 describes each SDTMIG §4.1.7 piece as its own dataset: ItemGroupDef OID IG.LBCH, Name and
SASDatasetName LBCH, Domain "LB" (SUPPLBCH: Domain "LB"), the parent's def:Structure, def:Class and ItemRefs
(the pieces share the parent's ItemDefs and value-level metadata: same variables, labels and lengths), a
Description naming the category ("Laboratory Test Results - Chemistry") and def:leaf lbch.xpt.
"""

from __future__ import annotations

import copy

from lxml import etree

from msc_interop.sdtm.split import Piece

_ODM = "http://www.cdisc.org/ns/odm/v1.3"
_DEF = "http://www.cdisc.org/ns/def/v2.1"
_XLINK = "http://www.w3.org/1999/xlink"


def describe_pieces(tree: etree._ElementTree, pieces: dict[str, list[Piece]], suffix: str,
                    labels: dict[str, str]) -> None:
    """Replace the ItemGroupDef of each split dataset (and of its SUPP--) by one per piece, in place.
    `labels`: SUPP piece name -> its label (the SUPP pieces present)."""
    root = tree.getroot()
    groups = {ig.get("OID"): ig for ig in root.iter(f"{{{_ODM}}}ItemGroupDef")}
    for parent, own in pieces.items():
        _replace(groups.get(f"IG.{parent}"), [(p.name, p.label) for p in own], suffix)
        supp = [(f"SUPP{p.name}", labels[f"SUPP{p.name}"]) for p in own if f"SUPP{p.name}" in labels]
        _replace(groups.get(f"IG.SUPP{parent}"), supp, suffix)


def _replace(ig: etree._Element | None, names: list[tuple[str, str]], suffix: str) -> None:
    if ig is None or not names:
        return
    parent_node = ig.getparent()
    at = parent_node.index(ig)
    for offset, (name, label) in enumerate(names):
        new = copy.deepcopy(ig)
        new.set("OID", f"IG.{name}")
        new.set("Name", name)
        new.set("SASDatasetName", name)
        text = new.find(f"{{{_ODM}}}Description/{{{_ODM}}}TranslatedText")
        if text is not None:
            text.text = label
        leaf = new.find(f"{{{_DEF}}}leaf")
        if new.get(f"{{{_DEF}}}ArchiveLocationID"):
            new.set(f"{{{_DEF}}}ArchiveLocationID", f"LF.{name}")
        if leaf is not None:
            href = name.lower() + suffix
            leaf.set("ID", f"LF.{name}")
            leaf.set(f"{{{_XLINK}}}href", href)
            leaf.find(f"{{{_DEF}}}title").text = href
        parent_node.insert(at + offset, new)
    parent_node.remove(ig)
