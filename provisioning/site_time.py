"""The years a date entered on the page, the API or a CSV line may fall in.

A date in year 1 (or 9999) cannot be moved between the site's time zone and UTC without an
overflow, and nothing at a door is valid in year 1 anyway. `supported` refuses any date outside
MIN_YEAR..MAX_YEAR with `DateOutOfRange` (a ValueError, so pydantic reports it per field); the app
turns one raised anywhere else into a 422 with the same message.
"""

from __future__ import annotations

from datetime import datetime

MIN_YEAR = 1970
MAX_YEAR = 2199


class DateOutOfRange(ValueError):
    """A date outside MIN_YEAR..MAX_YEAR."""


def supported(value: datetime) -> datetime:
    """`value` itself when its year is within MIN_YEAR..MAX_YEAR; raises DateOutOfRange."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise DateOutOfRange(
            f"{value.isoformat()} is outside the supported years {MIN_YEAR} to {MAX_YEAR}"
        )
    return value
