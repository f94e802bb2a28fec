"""Every ISO 8601 form msc-interop reads, writes or checks, stated once.

Sources: SDTMIG 3.4 section 4.4 (--DTC: extended format, right truncation, "-" for a missing middle part, no
time zone); FHIR R4/R5 datatypes `date`, `dateTime`, `instant` (a time needs seconds and a UTC offset);
ODM 1.3.2 "Data Formats" / Define-XML 2.1 ISO 8601 DataTypes (date, datetime, partialDate, partialDatetime,
incompleteDatetime, durationDatetime). Dates (the SDTM arithmetic), fhir/datetimes (the SDTM <-> FHIR
conversion), the define.xml writer and the validate rules all take their patterns from here.
"""

from __future__ import annotations

import re

# --- SDTM --DTC (SDTMIG 3.4 section 4.4) ----------------------------------------------------------------------

# Collected forms a data manager writes: ISO with optional time (T or space), UN/UNK for unknown month/day.
COLLECTED = (
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2}|UNK?|unk?)(?:-(?P<d>\d{2}|UNK?|unk?)"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?)?)?$"
)
# The common collected form, complete date with an optional time, each field within its bounds (the fast path of
# the records reader's date check; the day against its month is checked apart).
COLLECTED_COMPLETE = (r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
                      r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?$")
# SDTM --DTC (no intervals, no durations, no time zone): right-truncated or with missing middle parts.
SDTM_DTC = r"^(\d{4}|-)(-(\d{2}|-)(-(\d{2}|-)(T(\d{2}|-)(:(\d{2}|-)(:\d{2}(\.\d+)?)?)?)?)?)?$"
# The same, with a group per component (year first: what the calendar checks read).
SDTM_DTC_PARTS = re.compile(
    r"^(\d{4})(?:-(\d{2}|-)(?:-(\d{2}|-)(?:T(\d{2}|-)(?::(\d{2}|-)(?::(\d{2})(?:\.\d+)?)?)?)?)?)?$")
# Right-truncated only (no missing middle part): values that order as text.
RIGHT_TRUNCATED = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?)?$")
# A --DTC with its named parts, to the minute, second or fraction (what FHIR can carry).
DTC_FULL = re.compile(
    r"^(?P<date>(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2}))?)?)"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d{1,9})?)?)?$"
)
# A complete calendar date, with or without a time (the only dates --DY and comparisons use).
COMPLETE_DATE = r"^\d{4}-\d{2}-\d{2}(T|$)"
COMPLETE_DATE_PARTS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T|$)")
# Starts with a complete date (what the summary calls not partial).
DATE_PREFIX = r"^\d{4}-\d{2}-\d{2}"
# A complete date-time to at least the minute.
COMPLETE_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"
# The common valid right-truncated forms with calendar-bounded fields (checked column-wise before the rest).
PLAIN_DTC = (r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01])"
             r"(?:T(?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?)?)?)?$")
# Forms SDTM refuses but people write, recognised to say how to fix them: basic format, a space for T.
BASIC_FORMAT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?$")
SPACE_FOR_T = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?"
BASIC_FORMAT_ANY = r"\d{8}(T\d{4,6})?"

# --- FHIR date, dateTime, instant (R4/R5 datatypes) -------------------------------------------------------------

FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
# dateTime with a time (seconds and offset required) and instant.
FHIR_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
# A time without seconds or offset, or without seconds: named in the hint of a dateTime that FHIR refuses.
TIME_WITHOUT_SECONDS_OR_OFFSET = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
TIME_WITHOUT_SECONDS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})"
# A date-time to the minute or finer that ends in its UTC offset (a FHIR dateTime, or a --DTC given with one):
# groups the local date-time, the offset (Z or +hh:mm / -hh:mm).
DATETIME_WITH_OFFSET = r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})$"
# A UTC offset alone, as DATETIME_WITH_OFFSET captures it: Z, or sign, hours and minutes.
UTC_OFFSET = r"^(?:Z|([+-])(\d{2}):(\d{2}))$"
# What the reader accepts of others' FHIR: a date, or a date-time whose offset may be missing.
# The SDTM date-time to the minute as a clinic writes it (the writer's column-wise path, fhir/datetimes.py).
DTC_MINUTES = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"
# A FHIR dateTime as msc-interop writes a clock time: possible values only, seconds and an offset (the
# reader's shortcut when the offset is the study zone's): groups date, seconds, offset.
FHIR_DATETIME_WRITTEN = re.compile(r"(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:([0-5]\d)([+-]\d{2}:\d{2})")
FHIR_DATETIME_READ = re.compile(
    r"^(?P<date>\d{4}(?:-\d{2}(?:-\d{2})?)?)"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})(?P<f>\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?$"
)

# --- ODM / Define-XML ISO 8601 DataTypes ------------------------------------------------------------------------

# ODM 1.3.2 "Data Formats": datetime is YYYY-MM-DDThh:mm:ss(.n+)?(TZ)? with seconds; partialDate/partialDatetime
# are right-truncated forms; incompleteDatetime keeps the delimiters and writes "-" for a missing component.
TIME_ZONE = r"(?:Z|[+-]\d{2}:\d{2})?"
# a value's kind is the first of these it matches whole (narrowest first); durations and intervals come after
DATATYPE_PATTERNS: dict[str, str] = {
    "date": r"\d{4}-\d{2}-\d{2}",
    "datetime": rf"\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d+)?{TIME_ZONE}",
    "partialDate": r"\d{4}(?:-\d{2})?",
    "partialDatetime": rf"\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}(?::\d{{2}})?{TIME_ZONE}",
    "incompleteDatetime": SDTM_DTC.strip("^$"),
}
DURATION = re.compile(
    r"-?P(?=\d|T\d)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?W)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?"
)

# --- creation timestamps (--created, SOURCE_DATE_EPOCH) ----------------------------------------------------------

# Dataset-JSON 1.1 schema, datasetJSONCreationDateTime: YYYY-MM-DDThh:mm:ss(.n+)?(((+|-)hh:mm)|Z)?
DATASET_JSON_CREATED = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?"
    r"(([+-]([01]\d|2[0-3]):[0-5]\d)|Z)?$"
)

DATETIME_SECONDS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)")
