"""StationConfig validation and get/set of the safe config subset on the real GatewayConfig."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config.model import GatewayConfig
from gateway.config.station import StationConfig
from gateway.station.config_access import ModelConfigAccess


def test_station_config_refuses_inconsistent_settings() -> None:
    with pytest.raises(ValidationError):
        StationConfig(cert_file="c.pem")  # type: ignore[arg-type]  # key_file missing
    with pytest.raises(ValidationError):
        StationConfig(password_file="pw")  # type: ignore[arg-type]  # no username
    with pytest.raises(ValidationError):
        StationConfig(topic_prefix="menwei/#")
    with pytest.raises(ValidationError):
        StationConfig(station_public_key="not a key")
    with pytest.raises(ValidationError):
        StationConfig(unknown_field=1)  # type: ignore[call-arg]
    assert StationConfig().max_pending == 100_000


def test_every_station_setting_is_documented() -> None:
    undocumented = [n for n, f in StationConfig.model_fields.items() if not f.description]
    assert undocumented == []


def test_set_config_validates_before_changing_anything() -> None:
    config = GatewayConfig()
    access = ModelConfigAccess(config, {"door.unlock_ms", "door.held_open_s", "logging.level"})
    before = access.view()
    assert before["door.unlock_ms"] == config.door.unlock_ms
    with pytest.raises(ValueError):
        access.update({"door.held_open_s": 10.0, "door.unlock_ms": 10**6})  # out of bounds
    assert access.view() == before  # the valid half was not applied either
    with pytest.raises(ValueError):
        access.update({"store.url": "sqlite://"})
    door = config.door
    after = access.update({"door.unlock_ms": 5000, "logging.level": "DEBUG"})
    assert after["door.unlock_ms"] == 5000 and door.unlock_ms == 5000  # live object changed
    assert config.logging.level == "DEBUG"
