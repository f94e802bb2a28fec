"""MSC-FHIR-013 (a searchset or history Bundle that is one page of a search result whose other pages are not
given) over everything validate reads: the Bundles of JSON files, those on NDJSON lines and those in a Bundle's
entries (a batch-response holding a search's result), collected as from-fhir collects them (fhir/io.py) and
judged together by the same code (fhir/paging.py), so that both say the same of the same files. The NDJSON lines
are streamed (validate/fhir_stream.py): each line holding a Bundle gives its pages as it is read (`line_pages`),
and the pages are judged when the whole set is read, with those of the files read whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from msc_interop.fhir.paging import BundlePage, count_message, judge, pages_in
from msc_interop.validate.fhir_read import FhirContext
from msc_interop.validate.model import Finding, RuleMeta


def _placed(found: Iterable[tuple[int | None, dict[str, Any], BundlePage]], file: str, line: int | None
            ) -> Iterator[BundlePage]:
    """The pages, each with where its finding is: the file, the page Bundle, the row (the NDJSON line; in a JSON
    file the entry of its Bundle that holds it, none for that Bundle itself)."""
    for entry, bundle, page in found:
        rid = bundle.get("id")
        label = f"Bundle/{rid}" if isinstance(rid, str) and rid else "Bundle"
        yield replace(page, where={"file": file, "dataset": label, "row": line if line is not None else entry})


def line_pages(resource: dict[str, Any], file: str, line: int) -> list[BundlePage]:
    """The pages of a Bundle on an NDJSON line (and in its entries)."""
    return list(_placed(pages_in(resource, f"{Path(file).name} line {line}"), file, line))


def context_pages(ctx: FhirContext) -> list[BundlePage]:
    """The pages of the Bundles of a context read whole: the files' Bundles (with the Bundles in their entries) and
    the Bundles on NDJSON lines, in the order given."""
    out: list[BundlePage] = []
    for item in ctx.items:
        if item.type != "Bundle":
            continue
        if item.is_bundle:
            out += _placed(pages_in(item.resource, Path(item.file).name), item.file, None)
        elif ctx.containers[item.container].kind == "NDJSON" and item.entry is not None:
            out += line_pages(item.resource, item.file, item.entry)
    return out


def page_findings(meta: RuleMeta, pages: list[BundlePage]) -> list[Finding]:
    """MSC-FHIR-013: one finding per chain of pages from which matches may be missing (fhir/paging.py: a chain
    whose total shows every match given is no finding), at its last page; one per count answer (a _summary=count
    searchset: a total, no entries, BundlePage.count_only as from-fhir detects it), which is no page of data."""
    out = [meta.finding(**p.where, variable="Bundle.total", value=p.total, problem=(
        f"{count_message(p)} (a count answer, not data: no page of it is missing)")) for p in pages if p.count_only]
    for gap in judge([p for p in pages if not p.count_only]).gaps:
        if gap.warn:
            out.append(meta.finding(**gap.last.where, variable="Bundle.link",
                                    value=gap.after or gap.before or gap.total, problem=gap.message("given")))
    return out
