"""Config validation: bounds, unknown keys, key paths in errors, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config, parse_config
from menwei.main import main


def test_defaults_validate() -> None:
    config = parse_config({}, environ={})
    assert config.vision.tracker.agree <= config.vision.tracker.window
    assert config.door.backend == "sim"


def test_every_error_named_by_key_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "[vision.match]\nmin_margin = 5\ncolour = 'red'\n"
        "[vision.tracker]\nwindow = 3\nagree = 4\n"
        "[site]\nid = 'has space'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"vision.match.min_margin", "vision.match.colour", "vision.tracker", "site.id"}


def test_toml_syntax_error_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[vision\n")
    with pytest.raises(ConfigError, match="TOML syntax"):
        load_config(path, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_env_overrides_win_over_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[site]\nid = 'from-file'\n[vision.match]\nmin_margin = 0.1\n")
    env = {"MENWEI__SITE__ID": "tower-3", "MENWEI__VISION__MATCH__MIN_MARGIN": "0.05", "OTHER": "x"}
    config = load_config(path, environ=env)
    assert config.site.id == "tower-3"
    assert config.vision.match.min_margin == pytest.approx(0.05)


def test_env_override_is_validated_too() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({}, environ={"MENWEI__VISION__TRACKER__WINDOW": "0"})
    assert [i.path for i in caught.value.issues] == ["vision.tracker.window"]


def test_cli_check_prints_key_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[vision.detector]\nscore_threshold = 2\n")
    assert main(["config", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "vision.detector.score_threshold" in out
    good = tmp_path / "good.toml"
    good.write_text("[vision.detector]\nscore_threshold = 0.7\n")
    assert main(["config", "check", str(good)]) == 0
