"""Search results given in pages: a searchset or history Bundle with a `next` link is one page of the result
(FHIR R4 http.html#paging, search.html#count: "the server returns links ... next"; paging is defined for these
two Bundle types only, bdl-1: "total only when a search or history"), and its `total` counts every match of the
search (every version, for a history), not only those in the page. Converting such a file as if it were the whole
result would lose the other pages without a word, so from-fhir warns (fhir/read.py) and validate reports it
(MSC-FHIR-013). A collection, transaction or batch Bundle is no page, whatever links it has.

Several pages given together are linked by their links: page B follows page A when B's `self` is A's `next`, or
B's `previous` / `prev` is A's `self`; URLs are compared normalised (`url_key`: parsed, percent-decoded, the query
parameters sorted, `_format` and `_pretty` left out), as servers write the same page's URL in more than one way. A
page given twice (the same `self`, or identical entries) is judged once (`Pages.duplicates`). Each chain of pages is
judged once (`Pages.gaps`): the pages after its last one (a `next` link to a page not given), before its first one
(a `previous` link to a page not given), or fewer match entries than the `total` the server announced, are said
with what is known (the files, the total, the match entries present, the link not followed) and how to get the
rest: the `pull` command follows every next link. A chain whose `total` shows no match missing, though its last
page has a next link (servers may link to an empty last page), is a note, not a warning (`Gap.warn`).

Match entries of a searchset: search.mode "match", and an entry with no search.mode unless it is an
OperationOutcome (an `_include`d Patient is "include", an OperationOutcome about the search "outcome"); of a
history: every entry (a version; a deleted one has no resource). Only they are compared with `total`: FHIR R4
(4.0.1, as R4B 4.3.0) defines Bundle.total "If a set of search matches, this is the total number of entries of
type 'match' across all pages in the search. It does not include search.mode = 'include' or 'outcome' entries
and it does not provide a count of the number of entries in the Bundle"; R5 (5.0.0) the same of "the
(potentially estimated) total"; Bundle.entry.search.mode (R4, R5): "Why this entry is in the result set -
whether it's included as a match or because of an _include requirement, or to convey information or warning
information about the search process" (codes match | include | outcome).

A searchset with a `total` and no entries at all, no next or previous link, is the answer of a count search
(`_summary=count`, or `_count=0`: FHIR search.html, the count of the matches without the matches), not data
(`count_message`); with a total of 0 it is one only when its self link asks for the count (else it is a search
that matched nothing).
`remarks` gives what from-fhir and push say of the pages given together (through `judge`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

PAGED_TYPES = ("searchset", "history")
_BASE = re.compile(r"^(https?://[^?#]*?)/(?:[A-Z][A-Za-z]+|_history)(?:[/?#]|$)")
_NOT_COMPARED = frozenset(("_format", "_pretty"))  # how the page is shown, not which page it is


@dataclass(frozen=True)
class BundlePage:
    """What a searchset / history Bundle says of the result it belongs to."""

    file: str  # the file (and entry or line, for a Bundle in a Bundle or on an NDJSON line) as the reports name it
    type: str
    total: int | None
    matches: int  # match entries (see the module docstring)
    self_url: str | None
    next_url: str | None
    previous_url: str | None
    entries: bytes = b""  # a digest of the entries, when there are some (the same page given twice)
    where: Any = field(default=None, compare=False)  # the caller's own note of where it is (validate: a finding's)
    size: int = 0  # entries of any mode

    @property
    def count_only(self) -> bool:
        """The answer of a count search (_summary=count, _count=0): a total, no entries, no other page."""
        if self.type != "searchset" or self.total is None or self.size or self.next_url or self.previous_url:
            return False
        return self.total > 0 or _asks_count(self.self_url)


def _link(links: Any, *relations: str) -> str | None:
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") in relations and isinstance(link.get("url"), str) \
                and link["url"]:
            return str(link["url"])
    return None


def page_of(bundle: dict[str, Any], file: str, where: Any = None) -> BundlePage | None:
    """The page a Bundle is, when it is a searchset or history Bundle; else None."""
    btype = bundle.get("type")
    if btype not in PAGED_TYPES:
        return None
    links = bundle.get("link")
    entries = [e for e in bundle["entry"] if isinstance(e, dict)] if isinstance(bundle.get("entry"), list) else []
    matches = len(entries) if btype == "history" else sum(1 for e in entries if _is_match(e))
    total = bundle.get("total")
    try:
        digest = hashlib.blake2b(orjson.dumps(entries), digest_size=16).digest() if entries else b""
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: not compared by content
        digest = b""
    return BundlePage(file, btype, total if type(total) is int and total >= 0 else None, matches,
                      _link(links, "self"), _link(links, "next"), _link(links, "previous", "prev"), digest, where,
                      len(entries))


def _asks_count(url: str | None) -> bool:
    """Whether a search URL asks for the count only (_summary=count, or _count=0)."""
    query = url_key(url).partition("?")[2] if url else ""
    return any(pair in ("_summary=count", "_count=0") for pair in query.split("&"))


def count_message(page: BundlePage) -> str:
    """What a count answer (BundlePage.count_only) is, naming its file."""
    n = page.total or 0
    return (f"{page.file}: a _summary=count answer: {n} match{'' if n == 1 else 'es'}, no resources; search without "
            "_summary to read them")


def remarks(pages: list[BundlePage], tool: str) -> tuple[list[str], list[str]]:
    """(warnings, notes) of the pages given together, `tool` what the command did with them ("read", "pushed"):
    a warning per count answer and per chain of pages from which matches may be missing (Gap.warn); a note per
    chain from which pages are missing, whatever their total (the warnings among them), and per page given twice."""
    counts = [p for p in pages if p.count_only]
    judged = judge([p for p in pages if not p.count_only])
    warnings = [count_message(p) for p in counts] + [g.message(tool) for g in judged.gaps if g.warn]
    return warnings, [g.message(tool) for g in judged.gaps] + judged.duplicate_notes()


def _is_match(entry: dict[str, Any]) -> bool:
    search = entry.get("search")
    mode = search.get("mode") if isinstance(search, dict) else None
    if isinstance(mode, str):
        return mode == "match"
    res = entry.get("resource")
    return isinstance(res, dict) and res.get("resourceType") != "OperationOutcome"


def pages_in(bundle: dict[str, Any], file: str, entry: int | None = None
             ) -> Iterator[tuple[int | None, dict[str, Any], BundlePage]]:
    """(the index of the entry of the outer Bundle that holds it, its Bundle, the page) of a Bundle and of the
    Bundles in its entries, named as fhir/io.py names them ("FILE entry i")."""
    page = page_of(bundle, file)
    if page is not None:
        yield entry, bundle, page
    entries = bundle.get("entry")
    for i, e in enumerate(entries if isinstance(entries, list) else ()):
        res = e.get("resource") if isinstance(e, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Bundle":
            yield from pages_in(res, f"{file} entry {i}", i if entry is None else entry)


@functools.lru_cache(4096)
def url_key(url: str) -> str:
    """A page URL as compared: scheme and host in lower case, the path and query percent-decoded, the query's
    parameters sorted and those that only say how to show the page (_format, _pretty) left out."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    pairs = []
    for pair in parts.query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if unquote(name) not in _NOT_COMPARED:
                pairs.append((unquote(name), unquote(value)))
    query = "&".join(f"{n}={v}" for n, v in sorted(pairs))
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{unquote(parts.path).rstrip('/')}?{query}"


@dataclass(frozen=True)
class Gap:
    """A chain of pages given together from which pages (or matches) are missing."""

    pages: tuple[BundlePage, ...]  # in the order of their links
    after: str | None  # the next link not followed (None: the last page has none, or its next page was given)
    before: str | None  # the previous link to a page not given
    total: int | None
    matches: int

    @property
    def last(self) -> BundlePage:
        return self.pages[-1]

    @property
    def warn(self) -> bool:
        """Whether matches may be missing: no total to tell, or fewer matches than the total (else only a note:
        a next or previous link, but the total shows every match given)."""
        return self.total is None or self.matches < self.total

    def message(self, tool: str) -> str:
        """What is missing and how to get it (`tool`: what the command did with the pages, e.g. "read")."""
        files = ", ".join(dict.fromkeys(p.file for p in self.pages))
        kind = self.last.type
        one = len(self.pages) == 1
        pages = "the page" if one else "the pages"
        hold = "holds" if one else "hold"
        head = (f"{files}: a {kind} Bundle that is one page of a search result" if one
                else f"{files}: {len(self.pages)} pages of one {kind} result")
        if self.total is not None:
            said = [f"the server counted {self.total} match(es) (Bundle.total), {pages} {tool} {hold} {self.matches}"
                    + (f": {self.total - self.matches} were not {tool}" if self.total > self.matches else "")]
        else:
            said = [f"{pages} {tool} {hold} {self.matches} match(es) (the Bundle gives no total)"]
        if self.after:
            said.append(f"its next link ({self.after}) was not followed")
        if self.before:
            said.append(f"its previous link ({self.before}) names a page that was not given")
        if not self.warn:
            return (f"{head}; {'; '.join(said)}; but the total shows every match {tool}, so no match seems missing "
                    "(a server may link to an empty last page)")
        if not self.after and not self.before:
            said.append("it has no next link: the other matches are not in the file" if self.last.next_url is None
                        else "its links lead back to a page given: the other matches are not in the files")
        elif self.after:
            said[-1] += f": the pages after it were not {tool}"
        return f"{head}; {'; '.join(said)}. {advice(self.after or self.before or self.last.self_url)}"


def advice(url: str | None) -> str:
    """How to get every page: the pull command (it follows every next link), or all the pages' files together."""
    m = _BASE.match(url or "")
    server = m.group(1) if m else "URL"
    return (f"Get the whole result with `msc-interop pull --server {server} --patients FILE` (FILE: the Patient ids, "
            "one a line; pull follows every next link, see `msc-interop pull --help`), or save every page and give "
            "their files together")


@dataclass
class Pages:
    """The pages given together, judged: the chains from which pages or matches are missing (`gaps`, in the order
    their first page was given) and the pages given more than once (`duplicates`: (the copy, the page it repeats,
    what they share), judged once)."""

    gaps: list[Gap]
    duplicates: list[tuple[BundlePage, BundlePage, str]]

    def duplicate_notes(self) -> list[str]:
        """One note per page given more than once."""
        return [f"{copy.file} is the same page of a search result as {first.file} ({why}): counted once when "
                "judging whether pages are missing" for copy, first, why in self.duplicates]


def judge(pages: list[BundlePage]) -> Pages:
    """The chains of pages (linked by next -> self or previous -> self, URLs normalised) and what is missing."""
    kept: list[BundlePage] = []
    by_self: dict[str, BundlePage] = {}
    by_entries: dict[bytes, BundlePage] = {}
    duplicates: list[tuple[BundlePage, BundlePage, str]] = []
    for p in pages:
        key = url_key(p.self_url) if p.self_url else None
        if key is not None and key in by_self:
            duplicates.append((p, by_self[key], "the same self link"))
            continue
        if p.entries and p.entries in by_entries:
            duplicates.append((p, by_entries[p.entries], "identical entries"))
            continue
        kept.append(p)
        if key is not None:
            by_self[key] = p
        if p.entries:
            by_entries.setdefault(p.entries, p)
    follows: dict[int, BundlePage] = {}  # id(page) -> the page after it
    preceded: set[int] = set()
    for a in kept:  # a's next link names b
        b = by_self.get(url_key(a.next_url)) if a.next_url else None
        if b is not None and b is not a and id(b) not in preceded:
            follows[id(a)] = b
            preceded.add(id(b))
    for b in kept:  # b's previous link names a
        a = by_self.get(url_key(b.previous_url)) if b.previous_url else None
        if a is not None and a is not b and id(a) not in follows and id(b) not in preceded:
            follows[id(a)] = b
            preceded.add(id(b))
    out: list[Gap] = []
    placed: set[int] = set()
    # chains start at a page no other page precedes; then pages of a loop of links, from the first given
    for start in [*(p for p in kept if id(p) not in preceded), *kept]:
        if id(start) in placed:
            continue
        chain = [start]
        placed.add(id(start))
        while id(chain[-1]) in follows and id(follows[id(chain[-1])]) not in placed:
            chain.append(follows[id(chain[-1])])
            placed.add(id(chain[-1]))
        gap = _gap(chain, follows, preceded)
        if gap is not None:
            out.append(gap)
    return Pages(out, duplicates)


def _gap(chain: list[BundlePage], follows: dict[int, BundlePage], preceded: set[int]) -> Gap | None:
    last, first = chain[-1], chain[0]
    after = last.next_url if last.next_url and id(last) not in follows else None
    before = first.previous_url if first.previous_url and id(first) not in preceded else None
    totals = [p.total for p in chain if p.total is not None]
    total = max(totals) if totals else None
    matches = sum(p.matches for p in chain)
    if after is None and before is None and (total is None or matches >= total):
        return None
    return Gap(tuple(chain), after, before, total, matches)
