"""The bad-input corpus's registry: each case copies one good input (sources.copy_of), breaks one thing, runs one
command, and says what a data manager must see: the exit status (0 all converted, 1 records rejected, 2 input
unusable, never a traceback), the words the message must hold (the file and where in it), and for mostly-good
input the exact reconciliation of the form it touched (read = converted + rejected).

Cases are made by code from the fixtures in the `cases_*.py` modules beside this one, one per reader or topic;
`corpus.CASES` is the whole corpus.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml


@dataclass(frozen=True)
class Case:
    id: str
    # sources.copy_of kind: records, xlsx, odm, sdtm-json, sdtm-ndjson, sdtm-csv, sdtm-xpt, fhir-bundle, fhir-ndjson
    source: str
    command: str  # to-sdtm, to-fhir, from-fhir, validate, summary
    change: Callable[[Path], None]  # breaks the copy in place
    exit_code: int
    mentions: tuple[str, ...]  # each must appear in what the command prints (stdout + stderr)
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # form -> (read, converted, rejected)
    input: str = ""  # the file of the copy the command reads ("": the folder itself)


CASES: list[Case] = []


def case(id: str, source: str, command: str, exit_code: int, mentions: tuple[str, ...],
         counts: dict[str, tuple[int, int, int]] | None = None, *,
         input: str = "") -> Callable[[Callable[[Path], None]], None]:
    def register(change: Callable[[Path], None]) -> None:
        CASES.append(Case(id, source, command, change, exit_code, mentions, counts or {}, input))

    return register


# --- editing helpers ------------------------------------------------------------------------------------------

def edit_json(path: Path, fn: Callable[[Any], Any]) -> None:
    doc = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps(fn(doc) or doc))


def edit_bundle_entry(folder: Path, rtype: str, fn: Callable[[dict[str, Any]], Any], nth: int = 0) -> None:
    """Change the `nth` entry of a resource type in folder/bundle.json (fn edits the entry in place)."""
    def change(bundle: dict[str, Any]) -> None:
        entries = [e for e in bundle["entry"] if e.get("resource", {}).get("resourceType") == rtype]
        fn(entries[nth])

    edit_json(folder / "bundle.json", change)


def edit_csv_rows(path: Path, fn: Callable[[list[dict[str, str]]], list[dict[str, str]] | None]) -> None:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        names = list(reader.fieldnames or [])
        rows = list(reader)
    rows = fn(rows) or rows
    names = [n for n in names if any(n in r for r in rows)] if rows else names
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=names, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def edit_yaml(path: Path, fn: Callable[[Any], Any]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump(fn(doc) or doc, sort_keys=False), encoding="utf-8")


def replace_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
