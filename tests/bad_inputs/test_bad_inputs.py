"""Every case of the bad-input corpus: no traceback, the exit status a data manager can act on, a message that
names the file and the place, and no good record lost (counts reconcile exactly where the case says)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from .corpus import CASES, Case
from .sources import Hang, copy_of, no_hang, run_cli

# Cases that still end in a traceback (issue 17): each fix removes its id, and strict xfail fails the suite if
# a listed case starts passing without being removed.
KNOWN_TRACEBACKS: set[str] = set()


def _param(c: Case):
    marks = [pytest.mark.xfail(strict=True, reason="known traceback (issue 17)")] if c.id in KNOWN_TRACEBACKS else []
    return pytest.param(c, id=c.id, marks=marks)


def test_the_hang_watchdog_stops_a_command_that_does_not_return():
    with pytest.raises(Hang), no_hang(1):
        time.sleep(5)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("bad", [_param(c) for c in CASES])
def test_bad_input(bad: Case, tmp_path: Path) -> None:
    src = copy_of(bad.source, tmp_path / "in")
    bad.change(src)
    out = tmp_path / "out"
    args: list[object] = [bad.command, src / bad.input if bad.input else src]
    if bad.command != "validate":
        args += ["-o", out]
    if bad.command in ("to-sdtm", "from-fhir"):
        args += ["--format", "csv"]
    if bad.command in ("to-sdtm", "to-fhir"):
        args += ["--no-validate"]
    if bad.command == "to-fhir" and bad.source.startswith("sdtm"):
        args += ["--timezone", "Asia/Shanghai"]  # (SDTM does not say its times' zone; the example study's)
    res = run_cli(*args)
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"traceback: {type(res.exception).__name__}: {res.exception}\n{res.output}")
    assert res.exit_code == bad.exit_code, res.output
    # a message may wrap across the lines of a rich table: compare with its borders and line breaks removed too
    flat = " ".join(re.sub(r"[\u2500-\u257f]", " ", res.output).split())
    missing = [m for m in bad.mentions if m not in res.output and m not in flat]
    assert not missing, f"the message does not say {missing}:\n{res.output}"
    if bad.counts:
        counts = {c["form"]: (c["read"], c["converted"], c["rejected"])
                  for c in json.loads((out / "rejects.json").read_text(encoding="utf-8"))["counts"]}
        assert {form: counts.get(form) for form in bad.counts} == bad.counts
