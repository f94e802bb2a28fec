"""One error hierarchy for the whole tool.

Every message names the place (file, row, field), the value, and what would fix it, so a data manager
can act on it without reading code.
"""

from __future__ import annotations


class MscInteropError(Exception):
    """Base of every error msc-interop raises on purpose."""


class InputError(MscInteropError):
    """The input cannot be read at all (missing file, wrong encoding, empty, not a known layout)."""


class MappingDataError(MscInteropError):
    """A file under mappings/ is missing or does not match its JSON Schema."""


class StudyDefinitionError(MscInteropError):
    """The study definition file is invalid (schema or content)."""


class OutputLimitError(MscInteropError):
    """Data does not fit an output format's limits (e.g. XPT v5: names <= 8, labels <= 40, values <= 200 bytes).

    We refuse rather than truncate: a silently cut value is a submission defect nobody sees.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} value(s) do not fit the output format:\n  {head}{more}")


class UnknownFormatError(MscInteropError):
    """A format name that no reader or writer is registered for."""
