"""Stream ODM ClinicalData into item-group records, applying TransactionType as the file goes.

Each ItemGroupData is keyed by its OID path (subject, study event + repeat key, form + repeat key, item group
+ repeat key). TransactionType is the element's own or, without one, its nearest ancestor's (ODM 1.3.2); in a
Snapshot file (the current state, not its history) none is inherited, only an element's own counts. A later
occurrence of a key read before is a change of that item group only when its TransactionType says so: Update or
Upsert updates it item by item (the newest value wins: ODM files are in time order), and `Remove` at any level
deletes what it names, except records already rejected as they were read (a repeated Insert, a repeated ItemData):
they stay listed, so a later Remove never hides a reject. In a Transactional file an Update (the ItemGroupData's own or
inherited) of a key no earlier transaction inserted (never sent, or removed) creates nothing: ODM 1.3.2 section 2.9
(Transactions) says "Update means that the data entity already exists ... It is an error if the data entity does not
exist", and an Update carries only the items that changed, so a record made of it would be partial; it is rejected
(REJ-ODM-007), as is every later Update of that key until an Insert or Upsert creates it. Context (data resent for
context only) changes and creates nothing, except that an ItemData stating a TransactionType of its own is applied
to the existing record. Any other repeat (no TransactionType, or
Insert of a group that exists), and any two ItemGroupData of one key in the same FormData whatever their types (not
a sequence of transactions), are records of their own, all rejected, naming the others' lines, none merged nor
guessed. Only item groups the mapping uses are kept; everything else is counted, so the report can say what was
not converted and why.
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
    problems: list[tuple[str, str, str, str]] | None = None  # (ItemOID, value, reason, reject code)
    twins: list[GroupRecord] | None = None  # later ItemGroupData of the same key not merged: each rejected

    def occurrences(self) -> tuple[GroupRecord, ...]:
        """This record and its twins: one form row each."""
        return (self, *self.twins) if self.twins else (self,)

    def problem(self, oid: str, value: str, reason: str, code: str = "REJ-ODM-005") -> None:
        if self.problems is None:
            self.problems = []
        self.problems.append((oid, value, reason, code))


@dataclass
class Tally:
    """What was read but not converted: counted by kind so the report can list it."""

    skipped: Counter = field(default_factory=Counter)  # "AuditRecord", "vendor extension (OpenClinica)", ...
    unmapped_groups: Counter = field(default_factory=Counter)  # ItemGroupOID -> ItemData count
    unmapped_items: Counter = field(default_factory=Counter)  # (ItemGroupOID, ItemOID) -> count
    unknown_oids: Counter = field(default_factory=Counter)  # (kind, OID) -> count
    first_line: dict[object, int] = field(default_factory=dict)
    removed: Counter = field(default_factory=Counter)  # level -> count of Remove transactions applied
    removed_rejected: int = 0  # records rejected as read whose key a later Remove hit: still listed, rejected
    update_missing: int = 0  # ItemGroupData whose Update found no record (Transactional file): rejected
    updated: int = 0  # ItemGroupData merged into the record of their key (Update, or Upsert of one that exists)
    context: int = 0  # ItemGroupData with TransactionType Context: not applied
    context_differs: int = 0  # of those, the ones whose values differ from the record's
    context_differs_line: int = 0  # the line of the first of them
    context_missing: int = 0  # of those, the ones of a key with no record (never sent, or removed): none created
    context_missing_line: int = 0  # the line of the first of them
    context_items: int = 0  # ItemData under them stating a TransactionType of their own: applied to the record
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
        # rejected records that hold no key (SubjectKey -> [(key, record)]): ItemGroupData repeating a key in one
        # FormData, and a Context one of a key with no record whose ItemData state a TransactionType of their own
        self.detached: dict[str, list[tuple[GroupKey, GroupRecord]]] = {}
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
            self._keep_rejected(key, self.subjects.pop(key, {}), subj.sourceline or 0, "SubjectData")
            self.sites.pop(key, None)
            self.site_lines.pop(key, None)
            self.tally.removed["SubjectData"] += 1
            return
        site_ref = subj.find(_SITE)
        if site_ref is not None and not self._site(key, site_ref, subj):
            return
        groups = self.subjects.setdefault(key, {})
        transaction = None if self.snapshot else subj.get("TransactionType")
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
        """One StudyEventData; `transaction` is its SubjectData's TransactionType (inherited where not given; a
        Snapshot file inherits none)."""
        se_oid, se_rk = se.get("StudyEventOID", ""), se.get("StudyEventRepeatKey", "")
        se_transaction = None if self.snapshot else se.get("TransactionType") or transaction
        if se_oid not in self.meta.study_events:
            self.tally.note(self.tally.unknown_oids, ("StudyEventOID", se_oid), se.sourceline or 0)
        if se.get("TransactionType") == "Remove":
            self._remove(subject, groups, (se_oid, se_rk), "StudyEventData", se.sourceline or 0)
            return
        for fd in se:
            if fd.tag != _FD:
                self._skip(fd)
                continue
            fd_oid, fd_rk = fd.get("FormOID", ""), fd.get("FormRepeatKey", "")
            if fd_oid not in self.meta.forms:
                self.tally.note(self.tally.unknown_oids, ("FormOID", fd_oid), fd.sourceline or 0)
            if fd.get("TransactionType") == "Remove":
                self._remove(subject, groups, (se_oid, se_rk, fd_oid, fd_rk), "FormData", fd.sourceline or 0)
                continue
            fd_transaction = None if self.snapshot else fd.get("TransactionType") or se_transaction
            repeats = _repeats(fd) if len(fd) > 1 else None
            for ig in fd:
                if ig.tag != _IG:
                    self._skip(ig)
                    continue
                self._add_group(subject, groups, (se_oid, se_rk, fd_oid, fd_rk), ig, fd_transaction, repeats)

    def _remove(self, subject: str, groups: dict[GroupKey, GroupRecord], prefix: tuple[str, ...], level: str,
                line: int) -> None:
        gone = {k: groups.pop(k) for k in [k for k in groups if k[: len(prefix)] == prefix]}
        self._keep_rejected(subject, gone, line, level)
        self.tally.removed[level] += 1

    def _keep_rejected(self, subject: str, gone: dict[GroupKey, GroupRecord], line: int, level: str) -> None:
        """Records a Remove deletes that were rejected as they were read (a repeated Insert and the record it
        repeats, a repeated ItemData) stay in the reject report, each saying its key was removed: a Remove deletes
        the data its key holds, it does not undo the rejection of a transaction that was never applied."""
        for key, first in gone.items():
            for rec in first.occurrences():
                if not rec.problems:
                    continue
                oid, value, reason, code = rec.problems[0]
                rec.problems[0] = (oid, value, f"{reason}; a later TransactionType Remove of its {level} (line "
                                               f"{line}) removed this key, which does not undo the rejection: it "
                                               "stays listed here, not converted", code)
                self.detached.setdefault(subject, []).append((key, rec))
                self.tally.removed_rejected += 1

    def _add_group(self, subject: str, groups: dict[GroupKey, GroupRecord], outer: tuple[str, str, str, str],
                   ig: etree._Element, inherited: str | None = None,
                   repeats: dict[tuple[str, str], list[etree._Element]] | None = None) -> None:
        """Merge one ItemGroupData (`inherited`: its FormData's TransactionType, itself inherited; `repeats`: the
        ItemGroupData of its FormData sharing OIDs and repeat keys). The hot loop (one pass per ItemData) touches
        only what it must: source lines are looked up only for problems, units only when the ItemData has
        children."""
        ig_oid, ig_rk = ig.get("ItemGroupOID", ""), ig.get("ItemGroupRepeatKey", "")
        own = ig.get("TransactionType")
        transaction = own or inherited
        key: GroupKey = (*outer, ig_oid, ig_rk)
        line = ig.sourceline or 0
        if ig_oid not in self.meta.item_groups:
            self.tally.note(self.tally.unknown_oids, ("ItemGroupOID", ig_oid), line)
        siblings = repeats.get((ig_oid, ig_rk)) if repeats else None
        if own == "Remove" and siblings is None:
            self.tally.item_data += sum(1 for c in ig if c.tag.startswith(_ITEM))
            self._remove(subject, groups, key, "ItemGroupData", line)
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
        # Context: ItemData stating no TransactionType of their own are compared, not applied; `missing`: the key has
        # no record, so nothing is created (those stating one go to a record of their own, rejected)
        context = missing = differs = False
        applied = 0
        if siblings is not None:
            record = self._sibling(subject, key, ig, siblings)
        elif transaction == "Context":
            context = True
            if record is None:
                missing = True
                record = GroupRecord({}, line)
        elif record is None and transaction == "Update" and not self.snapshot:
            record = self._update_missing(subject, key, ig, own)
        elif record is None:
            record = groups[tuple(map(intern, key))] = GroupRecord({}, line)
        elif transaction in ("Update", "Upsert"):
            record.line = line
            self.tally.updated += 1
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
            item_transaction = it.get("TransactionType")
            if context and item_transaction is None:  # resent for context only
                differs = differs or (not missing and items.get(oid) != value)
                continue
            if oid in seen:
                first = next(c for c in ig if c.get("ItemOID") == oid)
                record.problem(oid, value, (f"ItemData {oid} appears twice in this ItemGroupData (lines "
                                        f"{first.sourceline} and {it.sourceline}, values {first.get('Value', '')!r}"
                                        f" and {value!r}); ODM allows one value per item"))
                continue
            seen.add(oid)
            if context:
                applied += 1
            if item_transaction == "Remove":
                if items.pop(oid, None) is not None:  # counted only when it removed a value
                    self.tally.removed["ItemData"] += 1
                elif context:
                    applied -= 1
                if record.units:
                    record.units.pop(oid, None)
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
        if context:
            self._context(subject, key, ig, record, missing, differs, applied)

    def _context(self, subject: str, key: GroupKey, ig: etree._Element, record: GroupRecord, missing: bool,
                 differs: bool, applied: int) -> None:
        """Count a Context ItemGroupData; one of a key with no record whose ItemData state a TransactionType of
        their own (now in `record`) is rejected: Context creates nothing for them to change."""
        t, line = self.tally, ig.sourceline or 0
        t.context += 1
        if differs:
            t.context_differs += 1
            t.context_differs_line = t.context_differs_line or line
        if not missing:
            t.context_items += applied
            if applied:
                record.line = line
            return
        t.context_missing += 1
        t.context_missing_line = t.context_missing_line or line
        if record.items:
            oid, value = next(iter(record.items.items()))
            said = next(c.get("TransactionType") for c in ig if c.get("ItemOID") == oid)
            inherited = "" if ig.get("TransactionType") else ", inherited from its parent"
            record.problem(oid, value, f"ItemData {oid} states TransactionType {said} but its ItemGroupData is resent "
                                       f"for context only (TransactionType Context{inherited}) and no ItemGroupData "
                                       "of these OIDs and repeat keys exists (never sent, or removed): Context "
                                       "creates nothing, so its values are rejected, not made a record")
            self.detached.setdefault(subject, []).append((key, record))

    def _update_missing(self, subject: str, key: GroupKey, ig: etree._Element, own: str | None) -> GroupRecord:
        """A record of its own, rejected, for an ItemGroupData of a Transactional file whose TransactionType (own or
        inherited) is Update and whose key holds no record: ODM 1.3.2 section 2.9 (Transactions): "Update means
        that the data entity already exists and must be modified to have the new properties provided. Properties
        not mentioned are not modified. It is an error if the data entity does not exist." Nothing is created (an
        Update holds only what changed); the key stays free for a later Insert or Upsert."""
        if own:
            said = "its own TransactionType Update"
        else:
            said = "TransactionType Update inherited from its " + next(
                e.tag.split("}")[-1] for e in ig.iterancestors() if e.get("TransactionType"))
        fd_rk, ig_rk = f" FormRepeatKey {key[3]}" if key[3] else "", f" ItemGroupRepeatKey {key[5]}" if key[5] else ""
        se_rk = f" StudyEventRepeatKey {key[1]}" if key[1] else ""
        record = GroupRecord({}, ig.sourceline or 0)
        record.problem(key[4], "", (
            f"Update of data no earlier transaction inserted: ItemGroupData {key[4]}{ig_rk} of FormData {key[2]}"
            f"{fd_rk}, StudyEventData {key[0]}{se_rk}, subject {subject} has {said}, but no Insert or Upsert earlier "
            "in this file created an ItemGroupData of these OIDs and repeat keys (never sent, or removed). ODM 1.3.2 "
            "(section 2.9, Transactions) makes an Update of data that does not exist an error, and an Update holds "
            "only the items that changed, so no record is made of it: send it as Insert or Upsert, or give the "
            "export with the transaction that inserted it"), "REJ-ODM-007")
        self.detached.setdefault(subject, []).append((key, record))
        self.tally.update_missing += 1
        return record

    def _hint(self, ig_oid: str) -> str:
        group = self.meta.item_groups.get(ig_oid)
        return (f"ItemGroupDef {self.meta.describe(ig_oid)} is not Repeating: one per FormData"
                if group is not None and not group.repeating else "a missing or repeated ItemGroupRepeatKey?")

    def _sibling(self, subject: str, key: GroupKey, ig: etree._Element, siblings: list[etree._Element]
                 ) -> GroupRecord:
        """A record of its own, rejected, for an ItemGroupData whose FormData holds another of its key: one
        FormData holds each once, so whatever their TransactionTypes they are not a sequence of transactions and
        none is applied (the record read before, if any, stands)."""
        lines = [e.sourceline or 0 for e in siblings]
        at = siblings.index(ig)
        others = [str(n) for i, n in enumerate(lines) if i != at]
        if at == 0:
            who = (f"the ItemGroupData at line{'s' if len(others) > 1 else ''} {', '.join(others)} "
                   f"{'have' if len(others) > 1 else 'has'} the same OIDs and repeat keys as this one")
        else:
            more = others[1:]
            who = (f"this ItemGroupData has the same OIDs and repeat keys as the one at line {others[0]}"
                   + (f" (and {'those at lines' if len(more) > 1 else 'the one at line'} {', '.join(more)})"
                      if more else ""))
        record = GroupRecord({}, lines[at])
        record.problem(key[4], "", f"{who} in the same FormData ({self._hint(key[4])}); one FormData holds each "
                                   "ItemGroupData once, so they are not a sequence of transactions whatever their "
                                   "TransactionType: each is rejected, none applied nor guessed")
        self.detached.setdefault(subject, []).append((key, record))
        return record

    def _twin(self, record: GroupRecord, ig_oid: str, line: int, transaction: str | None) -> GroupRecord:
        """A new record for an ItemGroupData whose key was read before and that may not change it: both are
        rejected (each names the other's line), so neither is merged into the other nor chosen over it."""
        hint = self._hint(ig_oid)
        if transaction is None and self.snapshot:
            why = ("a Snapshot file holds each ItemGroupData once (it shows the current state, not its history: only "
                   "a TransactionType stated on the ItemGroupData itself makes it a change; its SubjectData's, "
                   "StudyEventData's or FormData's is not inherited)")
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
                                            f"as this one ({hint}); {why}: each is rejected, none merged nor guessed",
                                "REJ-ODM-005"),
                               *(record.problems or ())]
            record.twins = []
        record.twins.append(twin)
        return twin


def _repeats(fd: etree._Element) -> dict[tuple[str, str], list[etree._Element]] | None:
    """The ItemGroupData of a FormData sharing OIDs and repeat keys, by (ItemGroupOID, repeat key); None if none."""
    seen: set[tuple[str, str]] = set()
    repeated: set[tuple[str, str]] = set()
    for ig in fd.iterchildren(_IG):
        k = (ig.get("ItemGroupOID", ""), ig.get("ItemGroupRepeatKey", ""))
        (repeated if k in seen else seen).add(k)
    if not repeated:
        return None
    out: dict[tuple[str, str], list[etree._Element]] = {}
    for ig in fd.iterchildren(_IG):
        k = (ig.get("ItemGroupOID", ""), ig.get("ItemGroupRepeatKey", ""))
        if k in repeated:
            out.setdefault(k, []).append(ig)
    return out


def oid_path(subject: str, key: GroupKey) -> str:
    """SubjectData[04]/StudyEventData[SE.YEAR1]/FormData[F.LB]/ItemGroupData[IG.LB@3]: where a record is."""
    se, se_rk, fd, fd_rk, ig, ig_rk = key
    return (f"SubjectData[{subject}]/StudyEventData[{se}{'@' + se_rk if se_rk else ''}]/"
            f"FormData[{fd}{'@' + fd_rk if fd_rk else ''}]/ItemGroupData[{ig}{'@' + ig_rk if ig_rk else ''}]")


def _vendor_namespaces() -> dict[str, str]:
    from msc_interop import mappings

    return mappings.load("odm")["vendor_namespaces"]
