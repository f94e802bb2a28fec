"""Stream ODM ClinicalData into item-group records, applying TransactionType as the file goes.

Each ItemGroupData is keyed by its OID path (subject, study event + repeat key, form + repeat key, item group
+ repeat key). TransactionType is the element's own or, without one, its nearest ancestor's (ODM 1.3.2). A later
occurrence of a key read before is a change of that item group only when its TransactionType says so: Update or
Upsert updates it item by item (the newest value wins: ODM files are in time order), Context (data resent for
context only) is read but not applied, and `Remove` at any level deletes what it names. Any other repeat (no
TransactionType, as in a Snapshot file, or Insert of a group that exists) is two records under one key: each
occurrence is kept as its own record and all are rejected, naming the other's line, none merged nor guessed.
Only item groups the mapping uses are kept; everything else is counted, so the report can say what was not
converted and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from sys import intern

from lxml import etree

from msc_interop.odm.mapping import OdmMapping
from msc_interop.odm.metadata import NS, Metadata, q

_SE, _FD, _IG, _SITE = q("StudyEventData"), q("FormData"), q("ItemGroupData"), q("SiteRef")
_ITEM, _UNITREF = q("ItemData"), q("MeasurementUnitRef")  # typed ItemDataString etc. also start with _ITEM
_SKIPPED = {q(t): t for t in ("AuditRecord", "Signature", "Annotation", "InvestigatorRef", "ArchiveLayoutRef")}

GroupKey = tuple[str, str, str, str, str, str]  # StudyEventOID, SE repeat, FormOID, form repeat, IG OID, IG repeat


@dataclass(slots=True)
class GroupRecord:
    """The items of one ItemGroupData (merged over its occurrences) and the line where it was last seen.

    Kept lean because one exists per record until the end of the file: values as plain strings, units
    (MeasurementUnitOIDs) only for items that have one, OIDs interned so a million ItemData share them."""

    items: dict[str, str]
    line: int
    units: dict[str, str] | None = None
    problems: list[tuple[str, str, str]] | None = None  # (ItemOID, value, reason)
    twins: list[GroupRecord] | None = None  # later ItemGroupData of the same key not merged: each rejected

    def occurrences(self) -> tuple[GroupRecord, ...]:
        """This record and its twins: one form row each."""
        return (self, *self.twins) if self.twins else (self,)

    def problem(self, oid: str, value: str, reason: str) -> None:
        if self.problems is None:
            self.problems = []
        self.problems.append((oid, value, reason))


@dataclass
class Tally:
    """What was read but not converted: counted by kind so the report can list it."""

    skipped: Counter = field(default_factory=Counter)  # "AuditRecord", "vendor extension (OpenClinica)", ...
    unmapped_groups: Counter = field(default_factory=Counter)  # ItemGroupOID -> ItemData count
    unmapped_items: Counter = field(default_factory=Counter)  # (ItemGroupOID, ItemOID) -> count
    unknown_oids: Counter = field(default_factory=Counter)  # (kind, OID) -> count
    first_line: dict[object, int] = field(default_factory=dict)
    removed: Counter = field(default_factory=Counter)  # level -> count of Remove transactions applied
    updated: int = 0  # ItemGroupData merged into the record of their key (Update, or Upsert of one that exists)
    context: int = 0  # ItemGroupData with TransactionType Context of a key read before: not applied
    context_differs: int = 0  # of those, the ones whose values differ from the record's
    context_differs_line: int = 0  # the line of the first of them
    other_data: Counter = field(default_factory=Counter)  # (StudyOID, MetaDataVersionOID) -> ItemData not read
    item_data: int = 0

    def note(self, counter: Counter, key: object, line: int, n: int = 1) -> None:
        counter[key] += n
        self.first_line.setdefault(key, line)


class ClinicalCollector:
    """Feed SubjectData elements in file order; read `subjects` / `sites` / `tally` at the end."""

    def __init__(self, meta: Metadata, mapping: OdmMapping, snapshot: bool = False) -> None:
        self.meta = meta
        self.mapping = mapping
        self.snapshot = snapshot
        self.subjects: dict[str, dict[GroupKey, GroupRecord]] = {}
        self.sites: dict[str, str] = {}
        self.site_lines: dict[str, int] = {}  # SubjectKey -> line of the SiteRef that set its site
        # SubjectData under another site than the subject's: (SubjectKey, first LocationOID, its line, this
        # LocationOID, this line, ItemData not read); never merged into the subject nor moved
        self.site_conflicts: list[tuple[str, str, int, str, int, int]] = []
        # the item groups the mapping reads of each such SubjectData (SubjectKey, [(key, values and line)]): what
        # the notes on the derivations made without them read (sdtm/lost_records.py)
        self.unread: list[tuple[str, list[tuple[GroupKey, GroupRecord]]]] = []
        self.tally = Tally()
        self.vendor = _vendor_namespaces()
        self._mapped: dict[tuple[str, str], frozenset[str] | None] = {}

    def mapped_items(self, item_group: str, form_oid: str) -> frozenset[str] | None:
        """ItemOIDs the mapping reads from `item_group` inside FormData `form_oid` (None: the group is not
        mapped there). Entries with a form_oid apply only inside that form, so each entry's items count alone."""
        key = (item_group, form_oid)
        if key not in self._mapped:
            entries = [g for g in self.mapping.groups_for(item_group) if not g.form_oid or g.form_oid == form_oid]
            self._mapped[key] = frozenset().union(*(g.items for g in entries)) if entries else None
        return self._mapped[key]

    def _skip(self, elem: etree._Element) -> None:
        tag = elem.tag if isinstance(elem.tag, str) else "comment"
        if tag in _SKIPPED:
            self.tally.skipped[_SKIPPED[tag]] += 1
        elif tag.startswith("{") and not tag.startswith(f"{{{NS}}}"):
            ns = tag[1:].split("}")[0]
            self.tally.skipped[f"vendor extension ({self.vendor.get(ns, ns)})"] += 1
        else:
            self.tally.skipped[f"element {tag.split('}')[-1]}"] += 1

    def add_subject(self, subj: etree._Element) -> None:
        """Merge one SubjectData (a snapshot or a transaction) into what is collected so far."""
        key = subj.get("SubjectKey", "")
        if subj.get("TransactionType") == "Remove":
            self.subjects.pop(key, None)
            self.sites.pop(key, None)
            self.site_lines.pop(key, None)
            self.tally.removed["SubjectData"] += 1
            return
        site_ref = subj.find(_SITE)
        if site_ref is not None and not self._site(key, site_ref, subj):
            return
        groups = self.subjects.setdefault(key, {})
        transaction = subj.get("TransactionType")
        for child in subj:
            tag = child.tag
            if tag == _SE:
                self._add_event(key, groups, child, transaction)
            elif tag != _SITE:
                self._skip(child)

    def _site(self, key: str, site_ref: etree._Element, subj: etree._Element) -> bool:
        """Record the subject's site; False (the SubjectData is not read) when the subject already has another:
        a subject belongs to one site, so its data are neither merged across sites nor moved to the last one."""
        loc, line = site_ref.get("LocationOID", ""), site_ref.sourceline or subj.sourceline or 0
        first = self.sites.get(key, "")
        if first and loc and loc != first:
            n = sum(1 for e in subj.iter() if isinstance(e.tag, str) and e.tag.startswith(_ITEM))
            self.tally.item_data += n
            self.site_conflicts.append((key, first, self.site_lines.get(key, 0), loc, line, n))
            self.unread.append((key, self._unread_groups(subj)))
            return False
        if loc and not first:
            self.sites[key] = loc
            self.site_lines[key] = line
        return True

    def _unread_groups(self, subj: etree._Element) -> list[tuple[GroupKey, GroupRecord]]:
        """The ItemGroupData of a SubjectData not read that the mapping reads, each with its values as given (no
        transaction applied: they are not converted) and its line."""
        out: list[tuple[GroupKey, GroupRecord]] = []
        for se in subj.iterchildren(_SE):
            for fd in se.iterchildren(_FD):
                for ig in fd.iterchildren(_IG):
                    key: GroupKey = (se.get("StudyEventOID", ""), se.get("StudyEventRepeatKey", ""),
                                     fd.get("FormOID", ""), fd.get("FormRepeatKey", ""),
                                     ig.get("ItemGroupOID", ""), ig.get("ItemGroupRepeatKey", ""))
                    if self.mapped_items(key[4], key[2]) is None:
                        continue
                    items = {it.get("ItemOID", ""): it.get("Value", "") if it.tag == _ITEM else it.text or ""
                             for it in ig if isinstance(it.tag, str) and it.tag.startswith(_ITEM)}
                    out.append((key, GroupRecord(items, ig.sourceline or 0)))
        return out

    def _add_event(self, subject: str, groups: dict[GroupKey, GroupRecord], se: etree._Element,
                   transaction: str | None) -> None:
        """One StudyEventData; `transaction` is its SubjectData's TransactionType (inherited where not given)."""
        se_oid, se_rk = se.get("StudyEventOID", ""), se.get("StudyEventRepeatKey", "")
        se_transaction = se.get("TransactionType") or transaction
        if se_oid not in self.meta.study_events:
            self.tally.note(self.tally.unknown_oids, ("StudyEventOID", se_oid), se.sourceline or 0)
        if se.get("TransactionType") == "Remove":
            self._remove(groups, (se_oid, se_rk), "StudyEventData")
            return
        for fd in se:
            if fd.tag != _FD:
                self._skip(fd)
                continue
            fd_oid, fd_rk = fd.get("FormOID", ""), fd.get("FormRepeatKey", "")
            if fd_oid not in self.meta.forms:
                self.tally.note(self.tally.unknown_oids, ("FormOID", fd_oid), fd.sourceline or 0)
            if fd.get("TransactionType") == "Remove":
                self._remove(groups, (se_oid, se_rk, fd_oid, fd_rk), "FormData")
                continue
            fd_transaction = fd.get("TransactionType") or se_transaction
            for ig in fd:
                if ig.tag != _IG:
                    self._skip(ig)
                    continue
                self._add_group(subject, groups, (se_oid, se_rk, fd_oid, fd_rk), ig, fd_transaction)

    def _remove(self, groups: dict[GroupKey, GroupRecord], prefix: tuple[str, ...], level: str) -> None:
        for k in [k for k in groups if k[: len(prefix)] == prefix]:
            del groups[k]
        self.tally.removed[level] += 1

    def _add_group(self, subject: str, groups: dict[GroupKey, GroupRecord], outer: tuple[str, str, str, str],
                   ig: etree._Element, inherited: str | None = None) -> None:
        """Merge one ItemGroupData (`inherited`: its FormData's TransactionType, itself inherited). The hot loop
        (one pass per ItemData) touches only what it must: source lines are looked up only for problems, units
        only when the ItemData has children."""
        ig_oid, ig_rk = ig.get("ItemGroupOID", ""), ig.get("ItemGroupRepeatKey", "")
        transaction = ig.get("TransactionType") or inherited
        key: GroupKey = (*outer, ig_oid, ig_rk)
        line = ig.sourceline or 0
        if ig_oid not in self.meta.item_groups:
            self.tally.note(self.tally.unknown_oids, ("ItemGroupOID", ig_oid), line)
        if ig.get("TransactionType") == "Remove":
            self.tally.item_data += sum(1 for c in ig if c.tag.startswith(_ITEM))
            self._remove(groups, key, "ItemGroupData")
            return
        mapped = self.mapped_items(ig_oid, outer[2])
        unmapped_key = ig_oid if not self.mapping.groups_for(ig_oid) else f"{ig_oid} in FormData {outer[2]}"
        if mapped is None:
            n = 0
            for c in ig:
                if c.tag.startswith(_ITEM):
                    n += 1
                else:
                    self._skip(c)
            self.tally.item_data += n
            if ig_oid in self.mapping.ignore:
                self.tally.skipped[f"ignored item group {ig_oid}"] += n
            else:
                self.tally.note(self.tally.unmapped_groups, unmapped_key, line, n)
            return
        record = groups.get(key)
        context: GroupRecord | None = None
        if record is None:
            record = groups[tuple(map(intern, key))] = GroupRecord({}, line)
        elif transaction in ("Update", "Upsert"):
            record.line = line
            self.tally.updated += 1
        elif transaction == "Context":  # read like the others (counts, unknown OIDs), compared, not applied
            context = record
            record = GroupRecord({}, line)
        else:
            record = self._twin(record, ig_oid, line, transaction)
        items = record.items
        known = self.meta.items
        seen: set[str] = set()
        n = 0
        for it in ig:
            tag = it.tag
            if tag == _ITEM:
                oid = it.get("ItemOID", "")
                value = it.get("Value", "")
                unit = ""
                if len(it):
                    unit_ref = it.find(_UNITREF)
                    if unit_ref is not None:
                        unit = unit_ref.get("MeasurementUnitOID", "")
                    for c in it:
                        if c.tag != _UNITREF:
                            self._skip(c)
            elif tag.startswith(_ITEM):  # ODM 1.3 typed form: <ItemDataString ItemOID="..">text</..>
                oid = it.get("ItemOID", "")
                value = it.text or ""
                unit = it.get("MeasurementUnitOID", "")
            else:
                self._skip(it)
                continue
            n += 1
            if it.get("IsNull") == "Yes":
                value = ""
            if oid not in mapped:
                if oid not in known:
                    self.tally.note(self.tally.unknown_oids, ("ItemOID", oid), it.sourceline or line)
                elif oid in self.mapping.ignore:
                    self.tally.skipped[f"ignored item {oid}"] += 1
                else:
                    self.tally.note(self.tally.unmapped_items, (ig_oid, oid), it.sourceline or line)
                continue
            if oid in seen:
                first = next(c for c in ig if c.get("ItemOID") == oid)
                record.problem(oid, value, (f"ItemData {oid} appears twice in this ItemGroupData (lines "
                                        f"{first.sourceline} and {it.sourceline}, values {first.get('Value', '')!r}"
                                        f" and {value!r}); ODM allows one value per item"))
                continue
            seen.add(oid)
            if it.get("TransactionType") == "Remove":
                items.pop(oid, None)
                if record.units:
                    record.units.pop(oid, None)
                self.tally.removed["ItemData"] += 1
            else:
                oid = intern(oid)
                items[oid] = value
                if unit:
                    if record.units is None:
                        record.units = {}
                    record.units[oid] = intern(unit)
                elif record.units:
                    record.units.pop(oid, None)
        self.tally.item_data += n
        if context is not None:
            self.tally.context += 1
            if any(context.items.get(oid) != value for oid, value in items.items()):
                self.tally.context_differs += 1
                self.tally.context_differs_line = self.tally.context_differs_line or line

    def _twin(self, record: GroupRecord, ig_oid: str, line: int, transaction: str | None) -> GroupRecord:
        """A new record for an ItemGroupData whose key was read before and that may not change it: both are
        rejected (each names the other's line), so neither is merged into the other nor chosen over it."""
        group = self.meta.item_groups.get(ig_oid)
        hint = (f"ItemGroupDef {self.meta.describe(ig_oid)} is not Repeating: one per FormData"
                if group is not None and not group.repeating else "a missing or repeated ItemGroupRepeatKey?")
        if transaction is None and self.snapshot:
            why = "a Snapshot file holds each ItemGroupData once"
        elif transaction is None:
            why = ("it has no TransactionType (nor have its FormData, StudyEventData and SubjectData), and only "
                   "Update or Upsert may change an ItemGroupData that exists")
        elif transaction == "Insert":
            why = "TransactionType Insert of an ItemGroupData that already exists is an error in ODM 1.3.2"
        else:
            why = (f"its TransactionType {transaction!r} is not one of ODM 1.3.2's (Insert, Update, Remove, Upsert, "
                   "Context)")
        twin = GroupRecord({}, line)
        twin.problem(ig_oid, "", f"this ItemGroupData has the same OIDs and repeat keys as the one at line "
                                 f"{record.line} ({hint}); {why}: each is rejected, none merged nor guessed")
        if not record.twins:
            record.problems = [(ig_oid, "", f"the ItemGroupData at line {line} has the same OIDs and repeat keys "
                                            f"as this one ({hint}); {why}: each is rejected, none merged nor guessed"),
                               *(record.problems or ())]
            record.twins = []
        record.twins.append(twin)
        return twin


def oid_path(subject: str, key: GroupKey) -> str:
    """SubjectData[04]/StudyEventData[SE.YEAR1]/FormData[F.LB]/ItemGroupData[IG.LB@3]: where a record is."""
    se, se_rk, fd, fd_rk, ig, ig_rk = key
    return (f"SubjectData[{subject}]/StudyEventData[{se}{'@' + se_rk if se_rk else ''}]/"
            f"FormData[{fd}{'@' + fd_rk if fd_rk else ''}]/ItemGroupData[{ig}{'@' + ig_rk if ig_rk else ''}]")


def _vendor_namespaces() -> dict[str, str]:
    from msc_interop import mappings

    return mappings.load("odm")["vendor_namespaces"]
