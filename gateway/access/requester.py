"""Who issued a station command, parsed once and strictly from the signed `issued_by` field.

Two forms exist, and nothing else is accepted:

* `station` or `station:<operator>` — the station platform itself (an operator acting for it);
* `resident:<external id>` — a resident asking the station to open for them; the door then applies
  the resident's own checks (active, valid dates, schedule), like any other credential.

The operator name and the external id are 1-64 printable characters without white space (the
store's external ids are at most 64). Anything else (`R-0002` without a prefix, `resident:`,
`Resident:R-1`, a trailing space, a control character) does not parse, and the command is refused
with `bad_requester` before it runs: a requester can never be mistaken for the other kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")


class RequesterKind(StrEnum):
    STATION = "station"
    RESIDENT = "resident"


@dataclass(frozen=True)
class Requester:
    """A parsed `issued_by`: the station (optionally naming its operator) or one resident."""

    kind: RequesterKind
    name: str | None  # operator name for STATION (or None), external id for RESIDENT

    @classmethod
    def station(cls, operator: str | None = None) -> Requester:
        return cls(RequesterKind.STATION, operator)

    @classmethod
    def resident(cls, external_id: str) -> Requester:
        return cls(RequesterKind.RESIDENT, external_id)

    @property
    def is_resident(self) -> bool:
        return self.kind is RequesterKind.RESIDENT

    def __str__(self) -> str:
        return self.kind.value if self.name is None else f"{self.kind.value}:{self.name}"


def parse_requester(value: object) -> Requester | None:
    """The requester named by `value`, or None when it is not exactly one of the two forms."""
    if not isinstance(value, str):
        return None
    if value == RequesterKind.STATION.value:
        return Requester.station()
    kind, colon, name = value.partition(":")
    if not colon or _NAME.fullmatch(name) is None:
        return None
    if kind == RequesterKind.STATION.value:
        return Requester.station(name)
    if kind == RequesterKind.RESIDENT.value:
        return Requester.resident(name)
    return None
