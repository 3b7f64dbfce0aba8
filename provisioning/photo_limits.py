"""Limits on uploaded photos, applied before decoding, and the worker that decodes off the loop.

An enrolment photo is checked from its header first (`gateway.vision.image_header`): only JPEG
and PNG are accepted, at most `MAX_PHOTO_MEGAPIXELS` megapixels and `MAX_PHOTO_DECODED_MB`
megabytes once decoded (16-bit samples and alpha count). A photo over the limits is refused
before any pixel is decoded. Decoding and the face analysis then run on `PhotoWorker`, one
bounded thread, so the event loop keeps answering other requests while a photo is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gateway.vision.errors import ImageDecodeError, ImageTooLarge
from gateway.vision.image_io import BGRImage, DecodeLimits, check_header, decode_image

MAX_PHOTO_MEGAPIXELS = 50
MAX_PHOTO_DECODED_MB = 200
UPLOAD_LIMITS = DecodeLimits(
    max_pixels=MAX_PHOTO_MEGAPIXELS * 1_000_000,
    max_decoded_bytes=MAX_PHOTO_DECODED_MB * 1024 * 1024,
    formats=frozenset({"jpeg", "png"}),
)
PHOTO_THREADS = 1

Result = TypeVar("Result")


def decode_upload(data: bytes, name: str) -> BGRImage:
    """Decode an uploaded photo within UPLOAD_LIMITS (raises ImageDecodeError / ImageTooLarge)."""
    return decode_image(data, name=name, limits=UPLOAD_LIMITS)


def oversized(photos: Sequence[tuple[str, bytes]]) -> list[str]:
    """Why each photo whose header is over UPLOAD_LIMITS is refused (header only, nothing
    decoded). Photos that are not images at all are left to the per-photo report."""
    problems = []
    for name, data in photos:
        try:
            check_header(data, name=name, limits=UPLOAD_LIMITS)
        except ImageTooLarge as error:
            problems.append(str(error))
        except ImageDecodeError:
            continue
    return problems


class PhotoWorker:
    """A bounded pool (PHOTO_THREADS threads) for decoding and analysing photos off the loop.

    Requests queue in submission order; the upload gate already bounds how many requests with a
    large body are in flight, so the queue holds at most that many.
    """

    def __init__(self, threads: int = PHOTO_THREADS) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="menwei-photo")

    async def run(self, function: Callable[..., Result], *args: object) -> Result:
        return await asyncio.wrap_future(self._executor.submit(function, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
