"""An Observation with no effective[x] date that LB / VS read: what it has instead is said, never dropped silently
(lab/read.py sets the flat record's effective_el to it; read_observations and read_vital_signs call say_undated).

SDTMIG: --DTC is the date/time of the specimen collection or of the measurement. `issued` is when the result was made
available, so it is not used as --DTC: the record keeps --DTC empty (LBDTC / VSDTC are Expected, not Required) and
one note says how many (ISSUED_ONLY tally, fhir/read.py finish_read). effectiveTiming is a schedule, not a date: the
record is converted without --DTC and listed in the report."""

from __future__ import annotations

from typing import Any

# the elements looked at, in order, when an Observation has no effectiveDateTime / Period / Instant
INSTEAD = ("effectiveTiming", "issued")
ISSUED_ONLY = "Observation with issued only"  # ReadContext.tallies key


def say_undated(r: Any, loc: Any, rec: Any, dtc_var: str) -> None:
    """Count (issued) or list in the report (effectiveTiming) a record whose --DTC is empty for want of a date."""
    if rec.effective is not None or rec.effective_orig is not None or rec.effective_el not in INSTEAD:
        return
    if rec.effective_el == "issued":
        r.tallies[ISSUED_ONLY] += 1
        return
    r.note_field(loc, "Observation", "Observation.effectiveTiming", f"converted without {dtc_var}: effectiveTiming "
                 "(a schedule, not a date) is not read", code="REJ-FHIR-006")


def issued_note(count: int) -> str:
    return (f"{count} Observation(s) have no effective[x], only `issued` (when the result was released): LBDTC / "
            "VSDTC left empty, as --DTC is when the specimen was collected or the measurement made (SDTMIG)")
