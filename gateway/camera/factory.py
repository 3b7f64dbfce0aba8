"""Turn a `CameraConfig` into the matching `FrameSource` (auto-detecting the kind when asked)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from gateway.camera.folder_source import ImageFolderSource
from gateway.camera.opencv_source import StreamSource, V4L2Source, VideoFileSource
from gateway.camera.source import Clock, FrameSource, Sleeper
from gateway.config.camera import CameraConfig, looks_like_stream, looks_like_v4l2

ConcreteKind = Literal["v4l2", "stream", "file", "folder"]


def resolve_kind(config: CameraConfig) -> ConcreteKind:
    """The explicit kind, or the one the source string (and, for paths, the disk) suggests."""
    if config.kind != "auto":
        return config.kind
    if looks_like_v4l2(config.source):
        return "v4l2"
    if looks_like_stream(config.source):
        return "stream"
    return "folder" if Path(config.source).is_dir() else "file"


def build_source(
    config: CameraConfig, *, clock: Clock = time.monotonic, sleep: Sleeper = time.sleep
) -> FrameSource:
    """A closed source for `config`; the capture opens it (and reopens it to reconnect)."""
    kind = resolve_kind(config)
    if kind == "v4l2":
        device: int | str = int(config.source) if config.source.isdigit() else config.source
        return V4L2Source(
            device,
            width=config.width,
            height=config.height,
            fps=config.fps_limit,
            fourcc=config.v4l2_fourcc,
            read_timeout_s=config.read_timeout_s,
        )
    if kind == "stream":
        return StreamSource(
            config.source,
            open_timeout_s=config.open_timeout_s,
            read_timeout_s=config.read_timeout_s,
            clock=clock,
        )
    if kind == "folder":
        return ImageFolderSource(
            config.source,
            loop=config.loop,
            paced=config.paced,
            fps=config.folder_fps,
            clock=clock,
            sleep=sleep,
        )
    return VideoFileSource(
        config.source, loop=config.loop, paced=config.paced, clock=clock, sleep=sleep
    )
