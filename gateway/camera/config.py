"""The `[camera]` config table: which source to open and how to judge it healthy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CameraConfig(BaseModel):
    """Camera source and capture behaviour."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    source: str = Field(
        "0",
        description="V4L2 index or device path, rtsp:// URL, video file, or a folder of images.",
    )
