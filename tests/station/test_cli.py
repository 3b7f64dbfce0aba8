"""`menwei station` tools, through their argparse registration on a fresh parser."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.station import cli
from gateway.station.keys import load_private_key, public_key_b64
from gateway.station.link import StationLink
from gateway.station.station_client import StationClient
from gateway.store.store import Store
from tests.station.broker import GATEWAY, PREFIX, SITE, USERS, MosquittoBroker
from tests.station.conftest import MODEL_ID, gateway_config, station_access, wait_until
from tests.station.events import TINY_JPEG, add_alert
from tests.station.test_commands import FakeRuntime


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="menwei")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def connection(broker: MosquittoBroker, folder: Path) -> list[str]:
    password = folder / "station.password"
    password.write_text(USERS["station"] + "\n")
    return [
        "--port",
        str(broker.port),
        "--ca",
        str(broker.ca),
        "--username",
        "station",
        "--password-file",
        str(password),
        "--prefix",
        PREFIX,
    ]


def test_keygen_open_and_tail(
    broker: MosquittoBroker,
    store_and_door: tuple[Store, int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "station.key"
    assert run(["station", "keygen", "--out", str(key_file)]) == 0
    key = load_private_key(key_file)
    assert public_key_b64(key) in capsys.readouterr().out
    assert key_file.stat().st_mode & 0o077 == 0

    store, door_id = store_and_door
    runtime = FakeRuntime()
    link = StationLink(
        gateway_config(broker, tmp_path / "gw", key),
        store,
        site_id=SITE,
        gateway_id=GATEWAY,
        door_id=door_id,
        model_id=MODEL_ID,
        callbacks=runtime.callbacks(),
    )
    common = connection(broker, tmp_path)
    with link:
        assert link.wait_connected(30)
        target = ["--site", SITE, "--gateway", GATEWAY, "--key", str(key_file)]
        assert run(["station", "open", *common, *target, "--by", "resident:7"]) == 0
        assert [str(r.requested_by) for r in runtime.opens] == ["resident:7"]
        out = capsys.readouterr().out
        assert '"ok": true' in out

        # tail uses a persistent session: create it first, so what is published before tail
        # connects waits at the broker for it (no race with the alert below)
        session = StationClient(station_access(broker), "tail-test", PREFIX)
        session.start()
        session.stop()
        seq = add_alert(store, door_id)
        link.notify()
        wait_until(lambda: link.drain.delivered_up_to >= seq, what="alert delivered")
        snapshots = tmp_path / "snaps"
        tail = [
            "--client-id",
            "tail-test",
            "--seconds",
            "60",
            "--max-events",
            "1",
            "--snapshots",
            str(snapshots),
        ]
        assert run(["station", "tail", *common, *tail]) == 0
    out = capsys.readouterr().out
    assert f"{SITE}/{GATEWAY} #{seq} alert" in out
    assert (snapshots / f"{GATEWAY}-{seq}.jpg").read_bytes() == TINY_JPEG


def test_bench_reports_a_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["station", "bench", "--events", "2000", "--target", "0"]) == 0
    out = capsys.readouterr().out
    assert "drained 2000 events" in out and "events/s" in out
