"""Field types every HTTP and AMQP contract uses for dates, times, ids and numbers.

Each bounds what the edge accepts to what the domain can store *and read back*: a date near the
end of the calendar overflows as soon as the domain adds a review interval or a follow-up delay
to it, and a NaN stored in an event comes back as `null`. So dates and times lie in
[EARLIEST, LATEST], ids carry no control characters, and numbers are finite. A value outside
answers 422 naming the field.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

# Wide enough for any date of birth or record an agency keeps, far enough from date.max that
# the domain's arithmetic (90-day reviews, 7-day follow-ups) can never overflow.
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
BOUNDS = f"between {EARLIEST.isoformat()} and {LATEST.isoformat()}"

# An identifier a caller chooses (an agency's record number, a goal id, a team member's user id):
# printable, no control characters (NUL, newlines, escapes), which would end up in logs and URLs.
IDENTIFIER_PATTERN = r"^[^\x00-\x1f\x7f]+$"


def _date_in_bounds(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be {BOUNDS}")
    return value


def _datetime_in_bounds(value: datetime) -> datetime:
    try:
        day = value.astimezone(timezone.utc).date()
    except OverflowError:  # a zone's offset pushed it past year 1 or 9999: far out of bounds anyway
        raise ValueError(f"must be {BOUNDS}") from None
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"must be {BOUNDS}")
    return value


def _not_in_future(value: date) -> date:
    if value > date.today():
        raise ValueError("must not be in the future")
    return value


BoundedDate = Annotated[date, AfterValidator(_date_in_bounds), Field(description=f"A date {BOUNDS}")]
BoundedDateTime = Annotated[
    AwareDatetime, AfterValidator(_datetime_in_bounds),
    Field(description=f"A time with its zone, {BOUNDS}"),
]
DateOfBirth = Annotated[
    date, AfterValidator(_date_in_bounds), AfterValidator(_not_in_future),
    Field(description=f"{BOUNDS}, and not in the future"),
]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, description="A finite number (no NaN or Infinity)")]


def identifier(max_length: int = 100, description: str | None = None) -> Any:  # Any, as Field itself, to stand as a field default
    """An id chosen by the caller: 1..max_length printable characters."""
    return Field(min_length=1, max_length=max_length, pattern=IDENTIFIER_PATTERN, description=description)


Identifier = Annotated[str, identifier()]
