"""The `[camera]` config table: which source to open, how to capture it, how to judge it healthy.

Validation is pure (no device, file or network is touched): the source string is only checked
for a shape that fits the declared kind. Whether a path is a video file or an image folder is
decided when the source is opened (`gateway.camera.factory`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SourceKind = Literal["auto", "v4l2", "stream", "file", "folder"]

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
_V4L2_PATH = re.compile(r"^/dev/video\d+$|^/dev/v4l/.+$")


def looks_like_v4l2(source: str) -> bool:
    """True for a V4L2 index ("0") or device path ("/dev/video2", "/dev/v4l/by-id/...")."""
    return source.isdigit() or bool(_V4L2_PATH.match(source))


def looks_like_stream(source: str) -> bool:
    """True for a network stream URL (rtsp, rtsps, rtmp, http, https)."""
    return source.lower().startswith(STREAM_SCHEMES)


class CameraHealthConfig(BaseModel):
    """Tamper and health detection; defaults suit a door camera at 5-30 fps."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tamper_after_s: float = Field(
        10.0,
        ge=0.1,
        le=3600.0,
        description="A condition (covered, frozen, defocused, no frames) must persist this long "
        "before it is raised; for 'disconnected' it is the longest allowed gap between frames.",
    )
    clear_after_s: float = Field(
        3.0,
        ge=0.0,
        le=3600.0,
        description="A raised condition clears only after its evidence has been absent this long.",
    )
    sample_interval_s: float = Field(
        0.2,
        ge=0.0,
        le=60.0,
        description="Frames are measured at most this often (0 = every frame); the measurements "
        "run on a grey copy downscaled to 320 px.",
    )
    check_interval_s: float = Field(
        0.5,
        ge=0.01,
        le=60.0,
        description="How often the watchdog checks for a missing stream between frames.",
    )
    hysteresis: float = Field(
        1.25,
        ge=1.0,
        le=4.0,
        description="While a condition is raised its thresholds are relaxed by this factor, so a "
        "value hovering at the limit does not flap.",
    )
    black_max_mean: float = Field(
        25.0,
        ge=0.0,
        le=255.0,
        description="Covered/black: mean grey level (0-255) at or below this, with a low spread.",
    )
    black_max_std: float = Field(
        12.0,
        ge=0.0,
        le=128.0,
        description="Covered/black: grey-level standard deviation at or below this.",
    )
    frozen_max_mean_diff: float = Field(
        0.5,
        ge=0.0,
        le=50.0,
        description="Frozen: mean absolute grey difference between measured frames at or below "
        "this AND the decoder position unchanged; or the frames are bit-identical (a live sensor "
        "always has some noise).",
    )
    defocus_ratio: float = Field(
        0.35,
        gt=0.0,
        lt=1.0,
        description="Defocused: variance of the Laplacian below this fraction of the learned "
        "baseline of the same camera.",
    )
    defocus_min_baseline: float = Field(
        15.0,
        ge=0.0,
        le=100000.0,
        description="Below this baseline sharpness the scene has too little texture to judge "
        "focus; defocus is then not reported.",
    )
    defocus_baseline_samples: int = Field(
        15,
        ge=1,
        le=10000,
        description="Healthy measurements whose median becomes the first sharpness baseline.",
    )
    defocus_baseline_tau_s: float = Field(
        900.0,
        ge=1.0,
        le=86400.0,
        description="Time constant of the slow baseline update (follows day/night, not a lens "
        "that fogs within minutes); only sharp-enough frames update it.",
    )

    @model_validator(mode="after")
    def _checks_fit_the_window(self) -> CameraHealthConfig:
        if self.sample_interval_s * 2 > self.tamper_after_s:
            raise ValueError("sample_interval_s must be at most half of tamper_after_s")
        if self.check_interval_s > self.tamper_after_s:
            raise ValueError("check_interval_s must not exceed tamper_after_s")
        return self


class CameraConfig(BaseModel):
    """Camera source and capture behaviour."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    source: str = Field(
        "0",
        min_length=1,
        max_length=2048,
        description="V4L2 index or device path, rtsp:// URL, video file, or a folder of images.",
    )
    kind: SourceKind = Field(
        "auto",
        description="Source type; 'auto' decides from the source: digits or /dev/video* -> v4l2, "
        "a URL -> stream, a directory -> folder, anything else -> file.",
    )
    width: int | None = Field(
        None, ge=16, le=7680, description="Requested frame width (V4L2 only; set with height)."
    )
    height: int | None = Field(
        None, ge=16, le=4320, description="Requested frame height (V4L2 only; set with width)."
    )
    v4l2_fourcc: str | None = Field(
        None,
        pattern=r"^[A-Z0-9]{4}$",
        description="Requested V4L2 pixel format, e.g. 'MJPG' for higher resolutions over USB.",
    )
    fps_limit: float = Field(
        0.0,
        ge=0.0,
        le=240.0,
        description="Publish at most this many frames per second (0 = as they come). Live "
        "sources skip the extra frames; files and folders are slowed down instead.",
    )
    loop: bool = Field(False, description="Files and folders: start again at the end.")
    paced: bool = Field(
        False,
        description="Files: deliver frames at the file's own fps (demos); folders: at folder_fps. "
        "Off: as fast as the consumer can use them.",
    )
    folder_fps: float = Field(
        10.0, gt=0.0, le=240.0, description="Frame rate of a paced image folder."
    )
    reconnect_min_s: float = Field(
        0.5, ge=0.01, le=600.0, description="First reconnect delay; doubles per failed attempt."
    )
    reconnect_max_s: float = Field(
        30.0, ge=0.01, le=3600.0, description="Upper bound of the reconnect delay."
    )
    reconnect_jitter: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Each delay is scaled by a random factor in [1-jitter, 1+jitter], never "
        "beyond reconnect_max_s, so many gateways do not retry in step.",
    )
    max_reconnect_attempts: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Give up ('failed') after this many consecutive failures; 0 = never.",
    )
    open_timeout_s: float = Field(
        10.0, ge=0.1, le=300.0, description="Streams: give up connecting after this long."
    )
    read_timeout_s: float = Field(
        5.0,
        ge=0.1,
        le=300.0,
        description="A read that waits longer has failed (streams; V4L2 in whole "
        "seconds, via OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT).",
    )
    health: CameraHealthConfig = Field(
        default_factory=CameraHealthConfig,
        description="Tamper and health detection (the [camera.health] table).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CameraConfig:
        if (self.width is None) != (self.height is None):
            raise ValueError("set width and height together (or neither)")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        source = self.source.strip()
        if source != self.source:
            raise ValueError("source has leading or trailing whitespace")
        if self.kind == "v4l2" and not looks_like_v4l2(source):
            raise ValueError("kind 'v4l2' needs an index (e.g. '0') or a /dev/video* path")
        if self.kind == "stream" and not looks_like_stream(source):
            raise ValueError("kind 'stream' needs a URL: " + ", ".join(STREAM_SCHEMES))
        if self.kind in ("file", "folder") and looks_like_stream(source):
            raise ValueError(f"kind '{self.kind}' was given a URL; use kind 'stream'")
        return self
