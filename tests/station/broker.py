"""The tests' mosquitto: gateway/station/local_broker.py with the test users and per-gateway ACL.

gw-1 and gw-2 may write only their own availability/status/telemetry/events/cmd_result topics and
read their own cmd/ topics; `station` may read and write everything under the prefix.
"""

from __future__ import annotations

from pathlib import Path

from gateway.station.local_broker import LocalBroker

PREFIX = "menwei/v1"
SITE = "site-a"
GATEWAY = "gw-1"
USERS = {"gw-1": "gw1-secret", "gw-2": "gw2-secret", "station": "station-secret"}


def gateway_acl(user: str, site: str) -> str:
    base = f"{PREFIX}/{site}/{user}"
    lines = [f"user {user}"]
    for leaf in ("availability", "status", "telemetry", "events/#", "cmd_result/#"):
        lines.append(f"topic write {base}/{leaf}")
    lines.append(f"topic read {base}/cmd/#")
    lines.append("topic write homeassistant/#")
    return "\n".join(lines)


def acl_text() -> str:
    blocks = [gateway_acl("gw-1", SITE), gateway_acl("gw-2", SITE)]
    blocks.append(f"user station\ntopic readwrite {PREFIX}/#\ntopic read homeassistant/#")
    return "\n\n".join(blocks) + "\n"


class MosquittoBroker(LocalBroker):
    def __init__(self, folder: Path, max_inflight: int = 100) -> None:
        super().__init__(folder, USERS, acl_text(), max_inflight)
