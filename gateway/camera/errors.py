"""Errors a frame source raises; each says what failed and whether retrying can help."""

from __future__ import annotations


class CameraError(Exception):
    """Base class for camera errors."""


class SourceOpenError(CameraError):
    """The source could not be opened.

    `permanent` is True when retrying cannot help (not a video, a folder without images, a
    missing file); the capture then stops in the 'failed' state instead of reconnecting.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SourceReadError(CameraError):
    """A read failed: the stream dropped, timed out or the device went away. Reconnect."""


class FrameDecodeError(SourceReadError):
    """One frame could not be decoded (e.g. a corrupt image in a folder); the next may work."""


class EndOfStream(CameraError):
    """A file or folder that does not loop has no more frames."""
