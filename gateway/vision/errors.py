"""Errors raised by the vision stages; each names what was wrong so callers can report and count."""

from __future__ import annotations


class VisionError(Exception):
    """Base class: a vision stage could not produce a trustworthy result."""


class ImageDecodeError(VisionError):
    """The bytes or file are not a usable image (corrupt, truncated, empty, unsupported)."""


class ImageTooLarge(ImageDecodeError):
    """The image's header declares more pixels or decoded bytes than allowed (refused undecoded)."""


class ModelOutputError(VisionError):
    """A model produced non-finite or malformed output; the face is treated as unusable."""
