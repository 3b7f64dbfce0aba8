"""CameraConfig: valid defaults, bounds and cross-field rules reject bad tables, kinds resolve."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.camera.factory import build_source, resolve_kind
from gateway.camera.folder_source import ImageFolderSource
from gateway.camera.opencv_source import StreamSource, V4L2Source, VideoFileSource
from gateway.config.camera import CameraConfig, CameraHealthConfig
from gateway.config.loader import ConfigError, load_config, parse_config
from gateway.config.model import GatewayConfig


def test_defaults_are_valid_and_sensible_for_a_door_camera() -> None:
    config = CameraConfig()
    assert config.source == "0" and config.kind == "auto"
    assert config.reconnect_min_s < config.reconnect_max_s
    health = config.health
    assert 0 < health.clear_after_s < health.tamper_after_s
    assert 0 < health.defocus_ratio < 1 and health.hysteresis >= 1


def test_gateway_config_takes_a_camera_table_with_health() -> None:
    config = GatewayConfig.model_validate(
        {"camera": {"source": "rtsp://cam/1", "health": {"tamper_after_s": 4}}}
    )
    assert config.camera.health.tamper_after_s == 4
    with pytest.raises(ValidationError, match="unknown_key"):
        GatewayConfig.model_validate({"camera": {"unknown_key": 1}})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"width": 640}, "width and height together"),
        ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "reconnect_min_s"),
        ({"kind": "v4l2", "source": "rtsp://x/y"}, "kind 'v4l2'"),
        ({"kind": "stream", "source": "clip.mp4"}, "kind 'stream'"),
        ({"kind": "file", "source": "rtsp://x/y"}, "use kind 'stream'"),
        ({"source": " 0"}, "whitespace"),
        ({"source": ""}, "at least 1"),
        ({"fps_limit": -1}, "greater than or equal"),
        ({"open_timeout_s": 0}, "greater than or equal"),
        ({"v4l2_fourcc": "mjpeg"}, "pattern"),
    ],
)
def test_bad_tables_are_rejected_with_a_reason(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CameraConfig.model_validate(table)


def test_health_thresholds_are_bounded() -> None:
    with pytest.raises(ValidationError):
        CameraHealthConfig(defocus_ratio=1.0)
    with pytest.raises(ValidationError):
        CameraHealthConfig(black_max_mean=300)
    with pytest.raises(ValidationError, match="half of tamper_after_s"):
        CameraHealthConfig(tamper_after_s=1.0, sample_interval_s=0.6)
    with pytest.raises(ValidationError, match="check_interval_s"):
        CameraHealthConfig(tamper_after_s=1.0, check_interval_s=2.0)


def test_auto_kind_from_the_source(tmp_path: Path) -> None:
    def kind(source: str) -> str:
        return resolve_kind(CameraConfig(source=source))

    assert kind("0") == "v4l2"
    assert kind("/dev/video2") == "v4l2"
    assert kind("rtsp://user:pw@10.0.0.5/stream1") == "stream"
    assert kind(str(tmp_path)) == "folder"
    assert kind(str(tmp_path / "clip.mp4")) == "file"
    assert resolve_kind(CameraConfig(source=str(tmp_path), kind="file")) == "file"


def test_build_source_picks_the_class_and_passes_options(tmp_path: Path) -> None:
    assert isinstance(build_source(CameraConfig(source="1")), V4L2Source)
    stream = build_source(CameraConfig(source="rtsp://h/x", open_timeout_s=2, read_timeout_s=3))
    assert isinstance(stream, StreamSource)
    assert (stream.open_timeout_s, stream.read_timeout_s) == (2, 3)
    folder = build_source(CameraConfig(source=str(tmp_path), loop=True))
    assert isinstance(folder, ImageFolderSource) and folder.loop
    video = build_source(CameraConfig(source=str(tmp_path / "a.avi"), paced=True))
    assert isinstance(video, VideoFileSource) and video.paced and not video.loop


def test_every_camera_field_is_documented() -> None:
    for model in (CameraConfig, CameraHealthConfig):
        undocumented = [name for name, f in model.model_fields.items() if not f.description]
        assert undocumented == [], model.__name__


def test_a_toml_camera_table_loads_with_env_overrides(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[camera]\nsource = 'rtsp://door-cam/stream1'\nopen_timeout_s = 3\n"
        "[camera.health]\ntamper_after_s = 8\n"
    )
    config = load_config(path, environ={"MENWEI__CAMERA__HEALTH__BLACK_MAX_MEAN": "30"})
    assert config.camera.source == "rtsp://door-cam/stream1" and config.camera.open_timeout_s == 3
    assert config.camera.health.tamper_after_s == 8 and config.camera.health.black_max_mean == 30
    with pytest.raises(ConfigError) as caught:
        parse_config({"camera": {"health": {"defocus_ratio": 2}}}, environ={})
    assert [issue.path for issue in caught.value.issues] == ["camera.health.defocus_ratio"]
