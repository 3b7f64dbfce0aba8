"""`logging.level` changed at run time by the station's signed `set_config` takes effect: the
running gateway's log output gains DEBUG lines, then loses INFO lines, as the level says.

Real broker, real station client, the real AccessService with its station link; the effect is
observed where an operator would see it, in the configured log handler's output.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.ops.logging_setup import configure_logging
from gateway.station.station_client import Received, StationClient
from gateway.station.topics import Topics
from tests.runtime.conftest import Running, empty_camera, make_config
from tests.station.broker import GATEWAY, PREFIX, SITE, MosquittoBroker
from tests.station.conftest import collect, gateway_config

RunService = Callable[..., Running]
RESULT_TOPIC = Topics(PREFIX, SITE, GATEWAY).result("set_config")


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    """configure_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def set_level(station: StationClient, key: Ed25519PrivateKey, level: str) -> dict[str, Any]:
    envelope = station.send_command(
        key,
        site=SITE,
        gateway=GATEWAY,
        name="set_config",
        args={"changes": {"logging.level": level}},
        issued_by="station:operator",
    )
    command_id = envelope["command"]["id"]

    def answered(got: list[Received]) -> bool:
        return any(
            m.topic == RESULT_TOPIC and m.json()["body"]["command_id"] == command_id for m in got
        )

    got = collect(station, answered)
    body: dict[str, Any] = next(
        m.json()["body"]
        for m in got
        if m.topic == RESULT_TOPIC and m.json()["body"]["command_id"] == command_id
    )
    return body


def test_log_level_from_the_station_changes_what_is_logged(
    tmp_path: Path,
    models_mirror: Path,
    broker: MosquittoBroker,
    station: StationClient,
    run_service: RunService,
    restored_root_logger: None,
) -> None:
    key = Ed25519PrivateKey.generate()
    link = gateway_config(broker, tmp_path / "link", key).model_dump(mode="json")
    config = make_config(
        tmp_path,
        models_mirror,
        empty_camera(tmp_path / "cam"),
        station=link,
        site={"id": SITE, "gateway_id": GATEWAY},
        logging={"level": "INFO"},
    )
    output = io.StringIO()
    configure_logging(config.logging, stream=output)
    running = run_service(config)
    assert running.service.station is not None
    assert running.service.station.wait_connected(30)
    probe = logging.getLogger("menwei.probe")

    probe.debug("probe-1 debug at INFO")
    to_debug = set_level(station, key, "DEBUG")
    assert to_debug["ok"], to_debug
    probe.debug("probe-2 debug at DEBUG")
    to_warning = set_level(station, key, "WARNING")
    assert to_warning["ok"], to_warning
    probe.info("probe-3 info at WARNING")
    probe.warning("probe-4 warning at WARNING")

    lines = output.getvalue()
    assert "probe-1" not in lines
    assert "probe-2 debug at DEBUG" in lines, "DEBUG acknowledged but not applied"
    assert "probe-3" not in lines, "WARNING acknowledged but INFO lines still written"
    assert "probe-4 warning at WARNING" in lines
    assert "log level set to WARNING" in lines  # the change itself is in the log
