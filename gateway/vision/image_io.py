"""Decode untrusted image files and buffers into 8-bit BGR frames, or fail with a clear reason.

Accepts grey, BGRA, 16-bit and large images (downscaled to a safe size); refuses empty,
truncated, corrupt or non-image input with `ImageDecodeError`. Nothing here ever raises anything
else for bad input. A PNG or JPEG is sized from its header first (`image_header`): one declaring
more pixels or decoded bytes than `DecodeLimits` allows is refused with `ImageTooLarge` before
OpenCV allocates anything, and `DecodeLimits.formats` can restrict which formats are decoded at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gateway.vision.errors import ImageDecodeError, ImageTooLarge
from gateway.vision.image_header import ImageHeader, read_header

BGRImage = npt.NDArray[np.uint8]

MAX_FILE_BYTES = 40 * 1024 * 1024
MAX_DECODED_PIXELS = 80_000_000
MAX_DECODED_BYTES = 320 * 1024 * 1024
WORKING_MAX_SIDE = 2048


@dataclass(frozen=True)
class DecodeLimits:
    """What an encoded image may declare before it is decoded.

    `formats` None accepts every format OpenCV reads (only PNG and JPEG are sized up front; the
    others are checked after decoding); a set such as {"png", "jpeg"} refuses everything else.
    """

    max_pixels: int = MAX_DECODED_PIXELS
    max_decoded_bytes: int = MAX_DECODED_BYTES
    formats: frozenset[str] | None = None


DEFAULT_LIMITS = DecodeLimits()


def check_header(
    data: bytes, *, name: str = "<buffer>", limits: DecodeLimits = DEFAULT_LIMITS
) -> ImageHeader | None:
    """The image's header when it is PNG/JPEG; raises when it is over `limits` (undecoded)."""
    header = read_header(data, name)
    if header is None:
        if limits.formats is not None:
            allowed = "/".join(sorted(f.upper() for f in limits.formats))
            raise ImageDecodeError(f"{name}: not a {allowed} image")
        return None
    if limits.formats is not None and header.format not in limits.formats:
        raise ImageDecodeError(f"{name}: {header.format.upper()} images are not accepted")
    if header.pixels > limits.max_pixels or header.decoded_bytes > limits.max_decoded_bytes:
        raise ImageTooLarge(
            f"{name}: {header.describe()} needs {header.decoded_bytes // (1024 * 1024)} MB "
            f"decoded; the limit is {limits.max_pixels // 1_000_000} megapixels and "
            f"{limits.max_decoded_bytes // (1024 * 1024)} MB"
        )
    return header


def decode_image(
    data: bytes,
    *,
    name: str = "<buffer>",
    max_side: int = WORKING_MAX_SIDE,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> BGRImage:
    """Decode encoded image bytes to a contiguous uint8 HxWx3 BGR array."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageDecodeError(f"{name}: {len(data)} bytes exceeds the {MAX_FILE_BYTES} byte limit")
    check_header(data, name=name, limits=limits)
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    except cv2.error as error:
        raise ImageDecodeError(f"{name}: cannot decode ({error.msg.strip()})") from None
    if image is None or image.size == 0:
        raise ImageDecodeError(f"{name}: not a decodable image (corrupt, truncated or unsupported)")
    return to_bgr8(image, name=name, max_side=max_side)


def read_image(path: str | Path, *, max_side: int = WORKING_MAX_SIDE) -> BGRImage:
    """Read and decode an image file; see `decode_image`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageDecodeError(f"{path}: {size} bytes exceeds the {MAX_FILE_BYTES} byte limit")
        data = path.read_bytes()
    except OSError as error:
        raise ImageDecodeError(f"{path}: cannot read ({error.strerror or error})") from None
    return decode_image(data, name=str(path), max_side=max_side)


def to_bgr8(
    image: npt.NDArray[np.generic], *, name: str = "<array>", max_side: int = WORKING_MAX_SIDE
) -> BGRImage:
    """Normalise any decoded array (grey/BGR/BGRA, 8/16-bit/float) to bounded uint8 BGR."""
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageDecodeError(f"{name}: unsupported array shape {image.shape}")
    height, width = image.shape[:2]
    if height * width > MAX_DECODED_PIXELS:
        raise ImageDecodeError(f"{name}: {width}x{height} exceeds {MAX_DECODED_PIXELS} pixels")
    pixels = _to_uint8(image, name)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if channels == 1:
        pixels = np.asarray(cv2.cvtColor(pixels.reshape(height, width), cv2.COLOR_GRAY2BGR))
    elif channels == 4:
        pixels = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR))
    elif channels != 3:
        raise ImageDecodeError(f"{name}: unsupported channel count {channels}")
    longest = max(height, width)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def _to_uint8(image: npt.NDArray[np.generic], name: str) -> npt.NDArray[np.uint8]:
    """8-bit pixels from 8-bit, 16-bit or float (0..1) input."""
    if image.dtype == np.uint8:
        return np.asarray(image, np.uint8)
    if image.dtype == np.uint16:
        return np.asarray(np.asarray(image, np.uint16) >> 8, np.uint8)
    if image.dtype in (np.float32, np.float64):
        values = np.asarray(image, np.float32)
        finite = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0)
        return np.asarray(np.clip(finite * 255.0, 0, 255), np.uint8)
    raise ImageDecodeError(f"{name}: unsupported pixel type {image.dtype}")
