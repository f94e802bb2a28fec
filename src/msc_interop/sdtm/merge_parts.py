"""What the parts of a study built apart (subject partitions: sdtm/partitioned.py; the two halves of a load on
two cores: sdtm/load_in_two.py) merge into: one reject report, and one first record of each non-ASCII value."""

from __future__ import annotations

from collections.abc import Mapping

from msc_interop.records.reader import FORMS
from msc_interop.rejects import FormCount, RejectReport, add_lost

Origins = dict[str, tuple[tuple[int, int, int], tuple[str, int, str]]]  # value -> (its rank, (file, row, field))


def merge_report(into: RejectReport, part: RejectReport, *, drop_repeats: bool = False) -> None:
    """`part`'s rejects, counts (summed per form), notes and carried forms added to `into`. `drop_repeats`: a
    reject `into` holds already is not added again (both halves of a load report a column not of the form)."""
    seen = set(into.rejects) if drop_repeats else set()
    into.rejects += [r for r in part.rejects if r not in seen]
    for form, c in part.counts.items():
        had = into.counts.get(form)
        into.counts[form] = FormCount(form, c.read + (had.read if had else 0),
                                      c.converted + (had.converted if had else 0))
    into.notes += [n for n in part.notes if n not in into.notes]
    into.carried |= part.carried
    into.kept += part.kept
    for key, lost in part.unsourced.items():
        add_lost(into.unsourced, key, lost)
    for visit, lost in part.unvisited.items():
        add_lost(into.unvisited, visit, lost)
    into.treated |= part.treated
    into.visit_notes |= part.visit_notes


def form_order(forms: Mapping[str, list[str]]) -> dict[str, tuple[int, list[str]]]:
    """Form -> (its place in FORMS, its columns): the order a whole read meets the forms' values in."""
    return {form: (FORMS.index(form) if form in FORMS else len(FORMS), list(cols)) for form, cols in forms.items()}


def merge_origins(into: Origins, found: dict[str, tuple[str, int, str]], order: dict[str, tuple[int, list[str]]],
                  files: dict[str, str]) -> None:
    """Keep, for each non-ASCII value, the occurrence a whole read finds first: form order, column order, row."""
    form_of_file = {f: form for form, f in files.items()}
    for value, (file, row, col) in found.items():
        form = form_of_file.get(file, file)
        rank, cols = order.get(form, (len(FORMS), []))
        key = (rank, cols.index(col) if col in cols else len(cols), row)
        if value not in into or key < into[value][0]:
            into[value] = (key, (file, row, col))
