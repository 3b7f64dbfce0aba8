"""Signed commands from the station: sign with the station's Ed25519 key, log, publish.

The private key is read from its file (`[signing] key_file`) into memory only; the database
keeps each command's id, target, who issued it, a summary without secrets (a visitor code's
digits are never stored) and, once the gateway answers, its result (`writer._record_result`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.access.requester import parse_requester
from gateway.station.keys import load_private_key, make_command, sign_command
from gateway.station.topics import COMMAND_NAMES, Topics
from station_console.db import Database
from station_console.schema import CommandRow

Publish = Callable[[str, bytes], None]
SECRET_ARGS = frozenset({"code"})


def summarise(args: dict[str, Any]) -> str:
    """The args as the log keeps them: secrets masked, templates counted, at most 500 chars."""
    shown: dict[str, Any] = {}
    for key, value in args.items():
        if key in SECRET_ARGS:
            shown[key] = "***"
        elif key in ("upserts", "removes") and isinstance(value, list):
            shown[key] = f"{len(value)} items"
        else:
            shown[key] = value
    return json.dumps(shown, ensure_ascii=False, default=str)[:500]


class CommandSender:
    def __init__(
        self,
        key: Ed25519PrivateKey,
        prefix: str,
        publish: Publish,
        database: Database,
        lifetime: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._key = key
        self.prefix = prefix
        self.publish = publish
        self.database = database
        self.lifetime = lifetime
        self.clock = clock

    @classmethod
    def from_file(
        cls, path: Path, prefix: str, publish: Publish, database: Database, lifetime_s: int
    ) -> CommandSender:
        return cls(load_private_key(path), prefix, publish, database, timedelta(seconds=lifetime_s))

    def send(
        self, *, site: str, gateway: str, name: str, args: dict[str, Any], issued_by: str
    ) -> str:
        """Sign, log and publish one command; returns its id. Bad input raises ValueError."""
        if name not in COMMAND_NAMES:
            raise ValueError(f"unknown command {name!r}")
        if parse_requester(issued_by) is None:
            raise ValueError(f"bad requester {issued_by!r}")
        now = self.clock()
        command = make_command(
            name=name,
            site=site,
            gateway=gateway,
            args=args,
            issued_by=issued_by,
            now=now,
            lifetime=self.lifetime,
        )
        envelope = sign_command(self._key, command)
        with self.database.session() as session:
            session.add(
                CommandRow(
                    command_id=command["id"],
                    name=name,
                    site=site,
                    gateway=gateway,
                    issued_by=issued_by,
                    summary=summarise(args),
                    sent_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        topic = Topics(self.prefix, site, gateway).command(name)
        self.publish(topic, json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
        return str(command["id"])
