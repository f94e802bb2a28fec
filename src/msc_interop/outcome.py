"""The exit status every command ends with, decided in one place from what the run produced.

0  every input record was converted (or carried) and what was written or checked passes;
1  some records were rejected (the rest was written; see the reject report), or checks found problems at or
   above --fail-on; every record rejected too (the input was read and the reject report written: not 2; the
   commands print "nothing converted", cli_common.print_rejects);
2  the input or the options could not be used at all (an MscInteropError; nothing, or nothing more, written);
3  an internal error: an exception no reader turned into a reject or a message (a bug to report; cli.py).
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Protocol

EXIT_OK, EXIT_REJECTS, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3


class Checked(Protocol):
    """A validation report: passes at a severity threshold."""

    def passes(self, fail_on: str = "error") -> bool: ...


def exit_status(rejects: Sized | None = None, *checks: Checked | bool | None, fail_on: str = "error") -> int:
    """EXIT_REJECTS when `rejects` (a RejectReport) lists any record or a check fails at `fail_on`; EXIT_OK
    otherwise. A check is a validation Report, or a bool saying whether it passed; None means not run."""
    if rejects is not None and len(rejects):
        return EXIT_REJECTS
    for check in checks:
        passed = check if isinstance(check, bool) or check is None else check.passes(fail_on)
        if passed is False:
            return EXIT_REJECTS
    return EXIT_OK
