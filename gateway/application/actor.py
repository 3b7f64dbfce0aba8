"""Who a command is run for, as the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A staff account (`name` = its username), the station (`station` or `station:<operator>`)
    or the command line; `source_address` is the client's address when there is one."""

    name: str
    source_address: str | None = None
