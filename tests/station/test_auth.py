"""Broker authentication and ACL failures are reported clearly, and nothing is marked delivered."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.station.link import StationLink
from gateway.station.local_broker import issue_client_certificate, write_test_pki
from gateway.station.station_client import StationClient
from gateway.store.events import count_pending, enqueue
from gateway.store.store import Store
from tests.station.broker import MosquittoBroker
from tests.station.conftest import MODEL_ID, collect, gateway_config, validate_received, wait_until
from tests.station.events import T0, add_alert


def test_a_wrong_password_is_a_clear_connection_error(
    broker: MosquittoBroker, store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    config = gateway_config(broker, tmp_path / "gw", None, password="wrong")
    link = StationLink(
        config, store, site_id="site-a", gateway_id="gw-1", door_id=door_id, model_id=MODEL_ID
    )
    with link:
        wait_until(lambda: link.last_error is not None, timeout=30, what="an error")
        assert link.last_error is not None
        assert "broker refused the connection" in link.last_error
        assert "Bad user name or password" in link.last_error or "Not authorized" in link.last_error
        assert not link.connected


def test_topics_outside_the_acl_are_refused_with_a_clear_error(
    broker: MosquittoBroker, store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    with store.sessions.writing() as session:
        enqueue(
            session,
            "gw-2",
            "alert",
            {
                "alert_id": 0,
                "kind": "x",
                "severity": "info",
                "occurred_at": T0.isoformat(),
                "has_snapshot": False,
                "detail": {},
            },
            T0,
        )
    # gw-2 may only use menwei/v1/site-a/gw-2/...; configured for site-b it is outside its ACL
    config = gateway_config(broker, tmp_path / "gw", Ed25519PrivateKey.generate(), user="gw-2")
    link = StationLink(
        config, store, site_id="site-b", gateway_id="gw-2", door_id=door_id, model_id=MODEL_ID
    )
    with link:
        assert link.wait_connected(30)  # mosquitto grants the subscription; reads are filtered
        wait_until(
            lambda: link.drain.counters.refused_by_broker >= 1, timeout=30, what="a refused PUBACK"
        )
        assert link.drain.last_error is not None
        assert "Not authorized" in link.drain.last_error and "ACL" in link.drain.last_error
    with store.sessions.reading() as session:
        assert count_pending(session, "gw-2") == 1  # refused rows stay in the outbox


def test_a_client_certificate_authenticates_the_gateway(
    broker: MosquittoBroker,
    station: StationClient,
    store_and_door: tuple[Store, int],
    tmp_path: Path,
) -> None:
    store, door_id = store_and_door
    add_alert(store, door_id)
    cert, key = issue_client_certificate(broker.folder, "gw-1")  # CN = user: the gw-1 ACL
    config = gateway_config(
        broker,
        tmp_path / "gw",
        None,
        port=broker.client_cert_port,
        cert_file=cert,
        key_file=key,
        username=None,
        password_file=None,
    )
    link = StationLink(
        config, store, site_id="site-a", gateway_id="gw-1", door_id=door_id, model_id=MODEL_ID
    )
    with link:
        got = collect(station, lambda got: any(m.topic.endswith("/events/alert") for m in got))
        wait_until(lambda: link.drain.delivered_up_to >= 1, what="alert marked delivered")
    assert validate_received(next(m for m in got if m.topic.endswith("/events/alert")))


def test_a_broker_certificate_from_another_ca_is_refused(
    broker: MosquittoBroker, store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    other_ca = tmp_path / "other-pki"
    other_ca.mkdir()
    write_test_pki(other_ca)
    config = gateway_config(broker, tmp_path / "gw", None, ca_file=other_ca / "ca.pem")
    link = StationLink(
        config, store, site_id="site-a", gateway_id="gw-1", door_id=door_id, model_id=MODEL_ID
    )
    with link:
        wait_until(lambda: link.last_error is not None, timeout=30, what="a TLS error")
        assert link.last_error is not None and "TLS verification" in link.last_error
        assert not link.connected
