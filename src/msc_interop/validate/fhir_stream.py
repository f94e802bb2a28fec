"""Validating FHIR NDJSON as a stream: flat memory whatever the number of resources.

The NDJSON files of one call are one set (a Bulk Data export). They are read line by line, each line parsed once,
and each resource checked in one pass (validate/fhir_clean.py): a resource that no per-resource rule reports only
gives its id and references to the indexes below; any other goes, in chunks of `CHUNK`, through the FHIR rule
functions (validate/fhir_rules.py, the same rule code as for a Bundle), which give its findings. Nothing is held
once checked. The two rules that need the whole set keep indexes instead, in bounded memory (validate/
fhir_index.py: batches of `Type/id` texts and reference texts with their places, spilled to disk by bucket, each
bucket judged alone with exact strings when the set is read):

- MSC-FHIR-009 (ids unique): each resource's `Type/id` with its place (file number and line, one int). Every
  resource's id is added as it is read; a `Type/id` held more than once is reported with its places in order.
- MSC-FHIR-008 (references resolve): the resource types seen, and each relative reference text ("Type/id") with
  the places that hold it (file, line and the reference's number in the resource), as arrays of ints. When the
  set is read, a reference resolves when its `Type/id` was seen (or its type never was, as before); the lines
  holding one that does not are read again (only those) for the resource's label and the element that holds the
  reference.
- MSC-FHIR-013 (pages of a search result): what each searchset / history Bundle on a line (or in its entries)
  says of its result (fhir/paging.py BundlePage, a few fields), judged with the pages of the files read whole
  when the set is read (validate/fhir_pages.py).

Findings are those of reading the whole set at once, in the same order within each rule (tests/fhir/
test_fhir_validate_clean.py, test_fhir_validate_stream.py). The version, when not given, is detected as before
from every resource (a first pass that parses only the lines that name an element one version alone has).
"""

from __future__ import annotations

import functools
import itertools
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from msc_interop.fhir.paging import BundlePage
from msc_interop.runtime import gc_paused
from msc_interop.validate import fhir_index
from msc_interop.validate.fhir_clean import Clean
from msc_interop.validate.fhir_index import SpillIndex
from msc_interop.validate.fhir_interpretation import Patients
from msc_interop.validate.fhir_pages import context_pages, line_pages, page_findings
from msc_interop.validate.fhir_read import (
    _RELATIVE,
    Container,
    FhirContext,
    FhirItem,
    normalize_version,
    read_fhir,
)
from msc_interop.validate.fhir_scan import scan
from msc_interop.validate.model import Finding, RuleMeta, Scope
from msc_interop.validate.registry import get_rule, list_rules, run

CHUNK = 64  # resources per chunk: small, so that the rules' passes over it find it in the CPU cache
_LINE = 1 << 12  # a place is (file << 44) | (line << 12) | (index of the reference in the resource, < 4096)
_FILE = 1 << 44
_NEW, _LOCAL = object(), object()


class WholeSet:
    """The whole-set indexes of MSC-FHIR-008 and -009 over the NDJSON set (see the module docstring); the ids and
    references themselves in a SpillIndex (validate/fhir_index.py: batches spilled to disk by bucket)."""

    def __init__(self, container: Container, batch: int | None = None, buckets: int | None = None):
        self.container = container
        self.files: list[str] = []
        self.numbers: dict[str, int] = {}
        self.types: set[str] = set()
        self.spilled = SpillIndex(batch or fhir_index.BATCH, buckets or fhir_index.BUCKETS)
        self.local: list[tuple[int, Finding]] = []  # contained (#x) references that do not resolve
        self.known: dict[str, Any] = {}  # reference text -> what _kind says (this batch)
        self.pages: list[BundlePage] = []  # MSC-FHIR-013: the pages of the Bundles on lines (validate/fhir_pages.py)
        self.patients = Patients(())  # MSC-FHIR-007: the sex / birth date of the Patients read so far
        self._judged: tuple[dict[str, list[int]], list[tuple[int, str]]] | None = None

    def add_id(self, rtype: str, rid: Any, at: int) -> None:
        """A resource read at place `at` (every one, in the order of the lines)."""
        self.types.add(rtype)
        if not isinstance(rid, str) or not rid:
            return
        spilled = self.spilled
        spilled.labels.append(f"{rtype}/{rid}")
        spilled.places.append(at)
        if len(spilled.labels) >= spilled.batch:
            spilled.spill()
            self.known.clear()  # it held the batch's reference arrays

    def add_ids(self, ctx: FhirContext) -> None:
        """Nothing: the stream adds each resource's id as it reads it (add_id)."""

    def add(self, at: int, refs: list[str]) -> None:
        """The references (texts, in the order of the rules' walk) of the resource at `at`, none contained."""
        known = self.known
        n = 0
        for k, value in enumerate(refs):
            places = known.get(value, _NEW)
            if places is _NEW:
                places = known[value] = self._kind(value)
            if places is None or places is _LOCAL:
                continue  # absolute or urn: not checked across NDJSON files; contained: resolved by the caller
            places.append(at + k if k < _LINE else at + _LINE - 1)
            n += 1
        if n:
            self.spilled.counted(n)
            if not self.spilled.pending:
                self.known.clear()

    def add_references(self, ctx: FhirContext, meta: RuleMeta) -> Iterator[Finding]:
        """MSC-FHIR-008 on a chunk of resources the rule functions check: contained references now, the others
        to the index."""
        for item in ctx.items:
            refs = scan(item).references
            if not refs:
                continue
            at = self.numbers[item.file] * _FILE + int(item.entry or 0) * _LINE
            for k, (path, value) in enumerate(refs):
                if value.startswith("#"):
                    contained = item.resource.get("contained")
                    target = value[1:]
                    found = value == "#" or (isinstance(contained, list) and any(
                        isinstance(c, dict) and c.get("id") == target for c in contained))
                    if not found:
                        self.local.append((at + min(k, _LINE - 1), meta.finding(
                            **ctx.where(item), variable=path, value=value, path=path, container=self.container.label)))
            self.add(at, [value for _, value in refs])
        return iter(())

    def merge(self, labels: list[str], places: array, pending: dict[str, array], types: set[str],
              local: list[tuple[int, Finding]]) -> None:
        """What another WholeSet read (a Dask partition, after those before it), as if read here."""
        self.types |= types
        spilled = self.spilled
        spilled.labels += labels
        spilled.places.extend(places)
        n = 0
        for value, ats in pending.items():
            spilled.places_of(value).extend(ats)
            n += len(ats)
        spilled.refs += n
        self.local += local
        if spilled.full():
            spilled.spill()
        self.known.clear()

    def _kind(self, value: str) -> array | object | None:
        """What a reference is: a contained one (_LOCAL), a relative one (its places), or neither."""
        if value.startswith("#"):
            return _LOCAL
        if _RELATIVE.match(value):
            return self.spilled.places_of(value)
        return None

    def _judge(self) -> tuple[dict[str, list[int]], list[tuple[int, str]]]:
        """Repeated ids and broken references, bucket by bucket (once; the index is then closed)."""
        if self._judged is None:
            repeated: dict[str, list[int]] = {}
            broken: list[tuple[int, str]] = []
            try:
                for bucket in self.spilled.buckets_read():
                    again, wrong = bucket.judged(self.types)
                    repeated.update(again)
                    broken += wrong
            finally:
                self.close()
            self._judged = repeated, broken
        return self._judged

    def close(self) -> None:
        """The spilled index removed (also when reading stopped on an error)."""
        self.spilled.close()
        self.known.clear()

    def reference_findings(self, meta: RuleMeta) -> list[Finding]:
        """MSC-FHIR-008 over the set: in the order of the places (file, line, reference)."""
        broken = sorted(set(self._judge()[1]))
        items = self._reread({at // _LINE for at, _ in broken})
        out = list(self.local)
        for at, path, value in self._located(broken, items):
            item = items[at // _LINE]
            out.append((at, meta.finding(file=item.file, dataset=item.label, row=item.entry, variable=path,
                                         value=value, path=path, container=self.container.label)))
        out.sort(key=lambda x: x[0])
        return [f for _, f in out]

    @staticmethod
    def _located(broken: list[tuple[int, str]], items: dict[int, FhirItem]) -> Iterator[tuple[int, str, str]]:
        """(place, element, text) of each broken reference, in the resource's order. A place holds one reference,
        but from a resource's 4095th reference on they share the last number: those are found again in the
        resource, every reference there with a broken text, in its order (as the rule functions give them)."""
        last = -1
        for n, (at, value) in enumerate(broken):
            k = at % _LINE
            refs = scan(items[at // _LINE]).references
            if k < _LINE - 1:
                yield at, refs[k][0] if k < len(refs) and refs[k][1] == value else next(
                    path for path, v in refs[k:] if v == value), value
            elif at != last:  # the first text at this shared place: every broken reference from here on
                last = at
                texts = {v for x, v in itertools.takewhile(lambda x, at=at: x[0] == at, broken[n:])}
                yield from ((at, path, v) for path, v in refs[k:] if v in texts)

    def id_findings(self, meta: RuleMeta) -> list[Finding]:
        """MSC-FHIR-009 over the set: per repeated Type/id (sorted), each place holding it."""
        out = []
        for label, places in sorted(self._judge()[0].items()):
            where = f"{self.container.label}: " + ", ".join(f"line {at % _FILE // _LINE}" for at in places)
            for at in places:
                out.append(meta.finding(file=self.files[at // _FILE], dataset=label, row=at % _FILE // _LINE,
                                        variable=f"{label.split('/')[0]}.id", value=label, count=len(places),
                                        where=where))
        return out

    def _reread(self, lines: set[int]) -> dict[int, FhirItem]:
        """The resources at these (file, line) places, read again from their files."""
        out: dict[int, FhirItem] = {}
        for f, name in enumerate(self.files):
            wanted = {x % (_FILE // _LINE) for x in lines if x // (_FILE // _LINE) == f}
            if not wanted:
                continue
            with open(name, "rb") as fh:
                for line_no, line in enumerate(fh, start=1):
                    if line_no in wanted:
                        out[f * (_FILE // _LINE) + line_no] = FhirItem(orjson.loads(line), name, line_no, 0)
        return out


def stream_rules(paths: Sequence[Path], version: str | None, deep: bool = False, engine: Any = None
                 ) -> tuple[FhirContext, list[Finding]]:
    """Every FHIR rule over these files (NDJSON streamed, the rest read whole): the context of the files read
    whole (with the version used) and all findings, unreadable input first, then rule by rule. `engine`: who
    reads the NDJSON set (None: this process; validate/fhir_dask.py: Dask workers), an object with this
    module's `_set_version` and `_stream` as its `version` and `stream`."""
    ndjson = [Path(p) for p in paths if Path(p).suffix.lower() == ".ndjson"]
    whole = [Path(p) for p in paths if Path(p).suffix.lower() != ".ndjson"]
    detect, stream = (_set_version, _stream) if engine is None else (engine.version, engine.stream)
    ctx, problems = read_fhir(whole, version if version is not None else "R4")
    ctx.deep = deep
    if version is None:
        ctx.version = detect(ctx, ndjson)
    else:
        ctx.version = normalize_version(version)
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in run(Scope.FHIR, ctx):
        by_rule[f.rule_id].append(f)
    if ndjson:
        with gc_paused():
            stream(ndjson, ctx, problems, by_rule)
    order = [m.id for m in list_rules() if m.scope == Scope.FHIR]
    findings = problems + [f for rid in order for f in by_rule.pop(rid, [])]
    return ctx, findings + [f for fs in by_rule.values() for f in fs]


def _stream(paths: list[Path], whole: FhirContext, problems: list[Finding], by_rule: dict[str, list[Finding]]
            ) -> None:
    container = ndjson_container(paths)
    index = WholeSet(container)
    try:
        check_lines(_lines(paths, problems, index), Clean(whole.version, whole.deep), whole, index, by_rule)
        by_rule["MSC-FHIR-008"] += index.reference_findings(get_rule("MSC-FHIR-008"))
        by_rule["MSC-FHIR-009"] += index.id_findings(get_rule("MSC-FHIR-009"))
        page_findings_of_set(whole, index, by_rule)
    finally:
        index.close()


def page_findings_of_set(whole: FhirContext, index: WholeSet, by_rule: dict[str, list[Finding]]) -> None:
    """MSC-FHIR-013 over the files read whole and the NDJSON set together, when Bundles were on its lines (else
    the rule function's findings on the files read whole stand): pages given in both are linked."""
    if index.pages:
        by_rule["MSC-FHIR-013"] = page_findings(get_rule("MSC-FHIR-013"), context_pages(whole) + index.pages)


def ndjson_container(paths: Sequence[Path | str]) -> Container:
    """The one container of the NDJSON files of a call (references resolve across all of them)."""
    return Container("NDJSON", str(paths[0]), "the NDJSON files given together")


def check_lines(lines: Iterable[tuple[int, str, int, dict[str, Any]]], clean: Clean, whole: FhirContext,
                index: WholeSet, by_rule: dict[str, list[Finding]]) -> None:
    """Every per-resource rule over these (file number, file, line number, resource), in chunks; the ids and
    references to `index` (also what the Dask engine runs on each partition, validate/fhir_dask.py)."""
    container = index.container
    check, add_id, add = clean.check, index.add_id, index.add
    items: list[FhirItem] = []
    for number, name, line_no, resource in lines:
        at = number * _FILE + line_no * _LINE
        rtype = resource["resourceType"]
        add_id(rtype, resource.get("id"), at)
        if rtype == "Bundle":  # a page of a search result? (MSC-FHIR-013, judged when the set is read)
            index.pages += line_pages(resource, name, line_no)
        elif rtype == "Patient":  # whose range, of several, is an Observation's (MSC-FHIR-007; read before it)
            index.patients.add((f"Patient/{resource.get('id')}",), resource)
        refs = check(resource)
        if refs is None:  # a rule may report it: the rule functions decide
            items.append(FhirItem(resource, name, line_no, 0))
            if len(items) >= CHUNK:
                _check(items, whole, container, index, by_rule)
                items = []
        elif refs:
            add(at, refs)
    if items:
        _check(items, whole, container, index, by_rule)


def _check(items: list[FhirItem], whole: FhirContext, container: Container, index: WholeSet,
           by_rule: dict[str, list[Finding]]) -> None:
    ctx = FhirContext(whole.version, items, [container], index=index, deep=whole.deep)
    for f in run(Scope.FHIR, ctx, rules=_fhir_rules()):
        by_rule[f.rule_id].append(f)


@functools.cache
def _fhir_rules() -> list[RuleMeta]:
    """The FHIR rules in their order (sorted once, not once per chunk)."""
    return [m for m in list_rules() if m.scope == Scope.FHIR]


def _lines(paths: list[Path], problems: list[Finding], index: WholeSet
           ) -> Iterator[tuple[int, str, int, dict[str, Any]]]:
    """(file number, file, line number, resource) of the NDJSON files, line by line; unreadable files and lines
    become MSC-IO-001."""
    for path in paths:
        name = str(path)
        number = index.numbers[name] = len(index.files)
        index.files.append(name)
        try:
            fh = open(path, "rb")  # noqa: SIM115 -- closed below; read errors midway are reported too
        except OSError as exc:
            problems.append(get_rule("MSC-IO-001").finding(file=name, kind="FHIR JSON", error=str(exc)))
            continue
        with fh:
            yield from parsed_lines(enumerate(fh, start=1), number, name, problems)


def parsed_lines(lines: Iterable[tuple[int, bytes]], number: int, name: str, problems: list[Finding]
                 ) -> Iterator[tuple[int, str, int, dict[str, Any]]]:
    """(file number, file, line number, resource) of numbered NDJSON lines of one file: blank lines skipped,
    a line that is not a resource an MSC-IO-001 finding."""
    io_rule = get_rule("MSC-IO-001")
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for line_no, line in lines:
        if not line or line.isspace():  # (strip would copy every line)
            continue
        try:
            resource = loads(line)
        except decode_error as exc:
            problems.append(io_rule.finding(file=name, row=line_no, kind="an NDJSON line", error=str(exc)))
            continue
        if type(resource) is not dict or type(resource.get("resourceType")) is not str:
            problems.append(io_rule.finding(file=name, row=line_no, kind="an NDJSON line",
                                            error="the line is not a resource (no resourceType)"))
            continue
        yield number, name, line_no, resource


def _set_version(whole: FhirContext, paths: Iterable[Path]) -> str:
    """The version all resources together tell (as fhir_rules._detected_version), without holding them: R5 when
    some say R5 and none says R4. Only the lines that name an element one version alone has are parsed."""
    seen = whole_versions(whole)
    for path in paths:
        if "R4" in seen:
            break  # one resource that says R4 settles it
        try:
            with open(path, "rb") as fh:
                add_line_versions(fh, seen)
        except OSError:
            continue
    return version_verdict(seen)


def whole_versions(whole: FhirContext) -> set[Any]:
    """The versions the resources read whole tell (Bundles themselves left out)."""
    from msc_interop.fhir.versions import evident_version

    return {evident_version(i.resource)[0] for i in whole.items if not i.is_bundle}


def version_verdict(seen: set[Any]) -> str:
    return "R5" if "R5" in seen and "R4" not in seen else "R4"


def add_line_versions(lines: Iterable[bytes], seen: set[Any]) -> None:
    """Add to `seen` the version each NDJSON line tells that names an element one version alone has (the others
    are not parsed); stop at the first that says R4, which settles it."""
    from msc_interop.fhir.versions import evident_version

    telling = _telling()
    for line in lines:
        if telling.search(line):
            try:
                resource = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(resource, dict):
                seen.add(evident_version(resource)[0])
                if "R4" in seen:
                    return


@functools.cache
def _telling() -> re.Pattern[bytes]:
    """A key that one FHIR version alone has (or `class`, whose form differs), as JSON text shows it."""
    from msc_interop.fhir.versions import _R4_ONLY, _R5_ONLY

    names = sorted({n for table in (_R4_ONLY, _R5_ONLY) for ns in table.values() for n in ns} | {"class"})
    return re.compile(b'"(?:' + b"|".join(re.escape(n.encode()) for n in names) + b')"')
