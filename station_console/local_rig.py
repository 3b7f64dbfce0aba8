"""A local broker for the simulator, the tests and the bench: mosquitto with TLS (the gateway's
`LocalBroker`), the station's delivery settings from docs/mosquitto-station.conf, one `station`
user that reads everything, and gateway users that may write only their own topics (`%u`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gateway.station.local_broker import LocalBroker, config_lines

REPO = Path(__file__).resolve().parents[1]
STATION_CONF = REPO / "docs" / "mosquitto-station.conf"
STATION_USER, STATION_PASSWORD = "station", "station-secret"
GATEWAY_PASSWORD = "gateway-secret"


def acl_text(prefix: str) -> str:
    own = f"{prefix}/+/%u"
    lines = [
        f"pattern write {own}/{leaf}"
        for leaf in ("availability", "status", "telemetry", "events/#", "cmd_result/#")
    ]
    lines.append(f"pattern read {own}/cmd/#")
    return "\n".join([*lines, "", f"user {STATION_USER}", f"topic readwrite {prefix}/#", ""])


def station_broker(folder: Path, gateways: Iterable[str], prefix: str = "menwei/v1") -> LocalBroker:
    users = {STATION_USER: STATION_PASSWORD} | {name: GATEWAY_PASSWORD for name in gateways}
    delivery = config_lines(STATION_CONF) if STATION_CONF.exists() else None
    return LocalBroker(folder, users, acl_text(prefix), delivery=delivery)
