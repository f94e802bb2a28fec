"""The documents a package's define.xml cites (its annotated CRF, supplemental documents: def:leaf), placed beside
each define.xml written for the package, so that the links the new define.xml carries over still resolve.

A def:leaf xlink:href is relative to the define.xml that holds it: the package's `blankcrf.pdf` is beside the
package's define.xml, and must be beside each one written (OUTDIR/xpt, OUTDIR/json). A document the input folder
has is copied there (all-or-nothing, as the other outputs); one it lacks, or an href that is not a path inside the
folder (a URL, an absolute path, ../), is still cited, and a note says where the file must be for the link to work:
a dangling link is never silent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from msc_interop.atomic import atomic_path
from msc_interop.study import Study

__all__ = ["place_documents"]


def _inside(href: str) -> PurePosixPath | None:
    """The relative path an href names inside the folder of its define.xml; None for a URL, an absolute path or
    one that leaves the folder."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = PurePosixPath(unquote(parts.path).replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def place_documents(study: Study, documents: Sequence[tuple[str, str, str]], folder: Path,
                    written: Iterable[Path] = ()) -> tuple[list[Path], list[str]]:
    """Copy each document define.xml in `folder` cites (`documents`: def:leaf ID, href, title, as build_define
    gives them) from the package's folder into `folder`; return the files written and a note for each document
    that is not there now. `written`: this run's files, which a document never replaces."""
    package = getattr(study.meta, "package", None)
    source = package.define_folder if package is not None else None
    ours = {Path(p).resolve() for p in written} | {(folder / "define.xml").resolve()}
    placed: list[Path] = []
    notes: list[str] = []
    for leaf, href, title in documents:
        cited = f"define.xml in {folder} cites {title or href!r} at {href!r} (def:leaf {leaf}) as the package's does"
        path = _inside(href)
        if path is None:
            notes.append(f"{cited}: not a path inside that folder, so not copied; check that it resolves where "
                         "define.xml is read")
            continue
        target = folder.joinpath(*path.parts)
        found = source.joinpath(*path.parts) if source is not None else None
        if target.resolve() in ours:
            notes.append(f"{cited}: the path is a file this run writes, so the document is not copied there; "
                         "rename the document and its def:leaf")
        elif found is None or not found.is_file():
            notes.append(f"{cited}, but {found if found is not None else href} is not there: place the document at "
                         f"{target} so that the link resolves")
        else:
            with atomic_path(target) as tmp:
                shutil.copyfile(found, tmp)
            placed.append(target)
    return placed, notes
