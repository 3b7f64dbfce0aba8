"""Building the paho-mqtt 2.x client: MQTT 5, TLS with server verification, credentials, last will.

Both the gateway's link and the station tooling use `make_client`. The session is persistent
(clean_start=False with a session expiry), so commands sent while the gateway is offline wait at
the broker. Reconnects back off exponentially between reconnect_min_s and reconnect_max_s.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class BrokerAccess:
    """Where the broker is and how to prove who we are."""

    host: str
    port: int
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30


def read_password(path: Path | None) -> str | None:
    if path is None:
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0] if lines else ""


def make_client(access: BrokerAccess, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """With `manual_ack`, a received QoS 1 message is acknowledged only by `client.ack`."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(access.ca_file) if access.ca_file else None
    )
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if access.cert_file is not None and access.key_file is not None:
        context.load_cert_chain(str(access.cert_file), str(access.key_file))
    client.tls_set_context(context)
    if access.username is not None:
        client.username_pw_set(access.username, access.password)
    return client


def connect_properties(
    session_expiry_s: int,
    receive_maximum: int | None = None,
    maximum_packet_size: int | None = None,
) -> Properties:
    """CONNECT properties: the session expiry, and optionally the flow-control limits the
    broker must respect towards us (unacknowledged QoS 1 messages, largest packet)."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    if maximum_packet_size is not None:
        properties.MaximumPacketSize = maximum_packet_size
    return properties


def connect_async(
    client: mqtt.Client,
    access: BrokerAccess,
    session_expiry_s: int,
    clean_start: bool = False,
    *,
    receive_maximum: int | None = None,
    maximum_packet_size: int | None = None,
) -> None:
    """Start connecting in the background (the loop thread retries until it succeeds)."""
    client.connect_async(
        access.host,
        access.port,
        keepalive=access.keepalive_s,
        clean_start=clean_start,
        properties=connect_properties(session_expiry_s, receive_maximum, maximum_packet_size),
    )
