"""Parsed mapping files kept as JSON in the user's cache folder: the YAML is parsed once per edit, not per process.

Why: LibYAML parses mappings/*.yaml at ~1-2 MB/s. sdtmig_domains.yaml (112 KB) took 0.044-0.096 s to parse, on the
critical path of to-sdtm's write (define.xml) and again in its forked writer (the define.xml checks), and every
command parses what it uses again; the same data load from JSON in ~1 ms. An entry is named by the file's name and
a digest of its text, of this cache's format, of the YAML loader and of msc-interop's version, so an edited file, or
another version of the tool or of the loader, parses again (and the file's older entries are removed). Data JSON
cannot hold exactly (a YAML date, a number as a key, NaN) is never cached. The cache only saves time: where its
folder cannot be written or read (a read-only home), or an entry is damaged or fails the caller's check (`valid`),
the YAML is parsed as before (and a damaged entry replaced).

Folder: $MSC_INTEROP_CACHE (the value `off`: no cache), else $XDG_CACHE_HOME/msc-interop, else
~/.cache/msc-interop; entries under its `mappings/` folder. Deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

CACHE_ENV = "MSC_INTEROP_CACHE"


def cache_folder() -> Path | None:
    """The folder of msc-interop's caches (None: caching is off)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return None if given.strip().lower() == "off" else Path(given)
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        return Path(base) / "msc-interop" if base else Path.home() / ".cache" / "msc-interop"
    except RuntimeError:  # no home folder to be found
        return None


FORMAT = 1  # of an entry: a change of what an entry holds numbers it anew (old entries are then never read)
_STALE_PART_SECONDS = 600  # a temporary entry this old was left by a killed process (writing one takes ms)


def parsed(name: str, text: str, parse: Callable[[str], Any], *, loader: str = "",
           valid: Callable[[Any], bool] | None = None) -> Any:
    """parse(text), the data of mapping file `name`: from the cache when an entry for this text (and `loader`, the
    parser's identity) is there and `valid` accepts it, else parsed and (when JSON holds the data exactly) stored
    for the next process."""
    folder = cache_folder()
    entry = None
    if folder is not None:
        key = "\0".join((str(FORMAT), _version(), loader, text))
        entry = folder / "mappings" / f"{name}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.json"
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(entry.read_bytes())
            if valid is None or valid(data):
                return data
    data = parse(text)
    if entry is not None:
        _store(entry, name, data)
    return data


def _store(entry: Path, name: str, data: Any) -> None:
    """Write the entry (a temporary file renamed onto it: a reader never sees half of one), when JSON gives the
    data back exactly; remove the entries of the file's earlier texts. Any OSError: no entry."""
    try:
        blob = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):  # a date, a set, NaN ...: not JSON
        return
    if json.loads(blob) != data:  # (a number as a key comes back as text)
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".part", dir=entry.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, entry)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        for old in entry.parent.glob(f"{name}-*.json"):
            if old != entry and old.name[len(name) + 1:-5].isalnum():
                with contextlib.suppress(OSError):
                    old.unlink()
        now = time.time()
        for part in entry.parent.glob(".*.part"):  # (a killed process's)
            with contextlib.suppress(OSError):
                if now - part.stat().st_mtime > _STALE_PART_SECONDS:
                    part.unlink()
    except OSError:
        return


@functools.cache
def _version() -> str:
    """The installed msc-interop distribution's version (an entry another version wrote is not read: its loader may
    differ). Code run from another tree on PYTHONPATH shares the installed one's entries; FORMAT and the loader's
    identity in the key still keep an entry of another shape or parser apart."""
    try:
        return importlib_metadata.version("msc-interop")
    except importlib_metadata.PackageNotFoundError:  # (an unpacked tree on the path)
        return "unknown"
