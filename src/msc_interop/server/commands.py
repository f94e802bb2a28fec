"""What the push and pull commands share around the work itself: the bearer token, the progress bar, the
JSON report. Kept out of cli.py so that cli.py stays a list of commands."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from msc_interop.atomic import write_bytes_atomic
from msc_interop.errors import InputError

TOKEN_ENV = "MSC_INTEROP_TOKEN"


def bearer_token(token_file: Path | None) -> str | None:
    """The bearer token: the first line of --token-file, else $MSC_INTEROP_TOKEN, else none. Never echoed."""
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{token_file}: cannot read the token file ({type(exc).__name__})") from None
        if not text:
            raise InputError(f"{token_file}: the token file is empty")
        return text.splitlines()[0].strip()
    return os.environ.get(TOKEN_ENV) or None


def smart_backend(client_id: str | None, key: Path | None, scope: str, token_url: str | None,
                  kid: str | None) -> Any:
    """The SMART Backend Services client of --smart-client-id / --smart-key (both or neither), else None."""
    if client_id is None and key is None:
        return None
    if client_id is None or key is None:
        raise InputError("SMART Backend Services needs both --smart-client-id and --smart-key")
    from msc_interop.server.smart import SmartBackend, load_private_key

    load_private_key(key)  # a bad key file is said before anything is sent
    return SmartBackend(client_id, key, scope, token_url, kid)


def write_report(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A rich progress bar on standard error when it is a terminal (a callback (done, total)); else nothing."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def patient_ids(path: Path) -> list[str]:
    """Patient ids from a file, one a line (blank lines and `#` comments skipped; `Patient/` prefix allowed)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the patient list ({type(exc).__name__})") from None
    ids = [ln.strip().removeprefix("Patient/") for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not ids:
        raise InputError(f"{path}: no Patient ids in the file")
    return ids


def since_instant(text: str | None) -> str | None:
    """--since as the server needs it: a date-time with its time zone (a date alone is its midnight UTC)."""
    if text is None:
        return None
    from msc_interop import iso8601

    value = text.strip()
    if iso8601.FHIR_DATE.match(value) and len(value) == 10:
        return f"{value}T00:00:00Z"
    if iso8601.FHIR_DATETIME.match(value):
        return value
    raise InputError(f"--since {text!r}: give a date (2026-01-31) or a date-time with its time zone "
                     "(2026-01-31T08:00:00Z, 2026-01-31T08:00:00+01:00)")
