"""Search results given in pages: a searchset (or history) Bundle with a `next` link is one page of the result
(FHIR R4 http.html#paging, search.html#count: "the server returns links ... next"), and its `total` counts every
match of the search, not only those in the page. Converting such a file as if it were the whole result would
lose the other pages without a word, so from-fhir warns (fhir/read.py) and validate reports it (MSC-FHIR-013).

Several pages given together are linked by their links: a page whose `self` link is another page's `next` link
follows it. Each chain of pages is judged once: the pages after its last one (a `next` link to a page not given),
before its first one (a `previous` / `prev` link to a page not given), or fewer match entries than the `total`
the server announced, are said with what is known (the files, the total, the match entries present, the link not
followed) and how to get the rest: the `pull` command follows every next link.

Match entries: `search.mode` "match" when the Bundle's entries give modes (an `_include`d Patient is "include",
not a match), else every entry with a resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PAGED_TYPES = ("searchset", "history")
_BASE = re.compile(r"^(https?://[^?#]*?)/(?:[A-Z][A-Za-z]+|_history)(?:[/?#]|$)")


@dataclass(frozen=True)
class BundlePage:
    """What a searchset / history Bundle says of the result it belongs to."""

    file: str  # the file (and entry, for a Bundle inside a Bundle) as the reports name it
    type: str
    total: int | None
    matches: int  # match entries (search.mode "match" when modes are given; else entries with a resource)
    self_url: str | None
    next_url: str | None
    previous_url: str | None


def _link(links: Any, *relations: str) -> str | None:
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") in relations and isinstance(link.get("url"), str) \
                and link["url"]:
            return str(link["url"])
    return None


def page_of(bundle: dict[str, Any], file: str) -> BundlePage | None:
    """The page a Bundle is, when it is a searchset / history Bundle or has a next link; else None."""
    btype = bundle.get("type") if isinstance(bundle.get("type"), str) else ""
    links = bundle.get("link")
    next_url = _link(links, "next")
    if btype not in PAGED_TYPES and next_url is None:
        return None
    entries = [e for e in bundle.get("entry") or () if isinstance(e, dict)] \
        if isinstance(bundle.get("entry"), list) else []
    modes = [e["search"].get("mode") for e in entries if isinstance(e.get("search"), dict)]
    if any(isinstance(m, str) for m in modes):
        matches = sum(1 for e in entries if isinstance(e.get("search"), dict) and e["search"].get("mode") == "match")
    else:
        matches = sum(1 for e in entries if isinstance(e.get("resource"), dict))
    total = bundle.get("total")
    return BundlePage(file, btype, total if type(total) is int and total >= 0 else None, matches,
                      _link(links, "self"), next_url, _link(links, "previous", "prev"))


@dataclass(frozen=True)
class Gap:
    """A chain of pages given together from which pages (or matches) are missing."""

    pages: tuple[BundlePage, ...]  # in the order of their links
    after: str | None  # the next link not followed (None: the last page has none, or it was given)
    before: str | None  # the previous link to a page not given
    total: int | None
    matches: int

    @property
    def last(self) -> BundlePage:
        return self.pages[-1]

    def message(self, tool: str) -> str:
        """What is missing and how to get it (`tool`: what the command did with the pages, e.g. "read")."""
        files = ", ".join(dict.fromkeys(p.file for p in self.pages))
        kind = self.last.type or "paged"
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
            said.append(f"its next link ({self.after}) was not followed: the pages after it were not {tool}")
        if self.before:
            said.append(f"its previous link ({self.before}) names a page that was not given")
        if not self.after and not self.before:
            said.append("and it has no next link: the other matches are not in the file")
        return f"{head}; {'; '.join(said)}. {advice(self.after or self.before or self.last.self_url)}"


def advice(url: str | None) -> str:
    """How to get every page: the pull command (it follows every next link), or all the pages' files together."""
    m = _BASE.match(url or "")
    server = m.group(1) if m else "URL"
    return (f"Get the whole result with `msc-interop pull --server {server} --patients FILE` (FILE: the Patient ids, "
            "one a line; pull follows every next link, see `msc-interop pull --help`), or save every page and give "
            "their files together")


def gaps(pages: list[BundlePage]) -> list[Gap]:
    """The chains of pages (linked next -> self) from which pages or matches are missing, in the order their first
    page was given."""
    by_self: dict[str, BundlePage] = {}
    for p in pages:
        if p.self_url is not None:
            by_self.setdefault(p.self_url, p)
    followed = {id(by_self[p.next_url]) for p in pages if p.next_url in by_self and by_self[p.next_url] is not p}
    out: list[Gap] = []
    placed: set[int] = set()
    # chains start at a page no other page's next link names; then pages of a loop of links, from the first given
    for start in [*(p for p in pages if id(p) not in followed), *pages]:
        if id(start) in placed:
            continue
        chain = [start]
        placed.add(id(start))
        while chain[-1].next_url in by_self and id(by_self[chain[-1].next_url]) not in placed:
            chain.append(by_self[chain[-1].next_url])
            placed.add(id(chain[-1]))
        gap = _gap(chain, by_self)
        if gap is not None:
            out.append(gap)
    return out


def _gap(chain: list[BundlePage], by_self: dict[str, BundlePage]) -> Gap | None:
    after = chain[-1].next_url if chain[-1].next_url not in by_self else None
    before = chain[0].previous_url if chain[0].previous_url and chain[0].previous_url not in by_self else None
    totals = [p.total for p in chain if p.total is not None]
    total = max(totals) if totals else None
    matches = sum(p.matches for p in chain)
    if after is None and before is None and (total is None or matches >= total):
        return None
    return Gap(tuple(chain), after, before, total, matches)
