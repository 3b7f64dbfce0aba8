"""Photo headers are read right for what OpenCV writes and refused before decoding when too big;
ordinary photos (the shared face images) pass the upload limits unchanged."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.vision.errors import ImageDecodeError, ImageTooLarge
from gateway.vision.image_header import read_header
from gateway.vision.image_io import decode_image
from provisioning.photo_limits import UPLOAD_LIMITS, decode_upload, oversized
from tests.provisioning.gateway_process import jpeg_declaring, png_bomb

OBAMA = "face_recognition_examples/images/obama/examples__obama-1080p.jpg"


def encode(extension: str, image: np.ndarray, *params: int) -> bytes:
    ok, data = cv2.imencode(extension, image, list(params))
    assert ok
    return bytes(data.tobytes())


@pytest.mark.parametrize(
    ("image", "channels", "depth"),
    [
        (np.zeros((30, 40), np.uint8), 1, 8),
        (np.zeros((30, 40, 3), np.uint8), 3, 8),
        (np.zeros((30, 40, 4), np.uint8), 4, 8),
        (np.zeros((30, 40, 4), np.uint16), 4, 16),
        (np.zeros((30, 40), np.uint16), 1, 16),
    ],
)
def test_png_header_matches_the_image(image: np.ndarray, channels: int, depth: int) -> None:
    header = read_header(encode(".png", image))
    assert header is not None and header.format == "png"
    assert (header.width, header.height, header.channels, header.bit_depth) == (
        40,
        30,
        channels,
        depth,
    )
    assert header.decoded_bytes == image.nbytes


def test_jpeg_header_baseline_progressive_and_grey() -> None:
    colour = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    baseline = read_header(encode(".jpg", colour))
    progressive = read_header(encode(".jpg", colour, cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
    grey = read_header(encode(".jpg", colour[:, :, 0]))
    assert baseline is not None and (baseline.width, baseline.height) == (400, 300)
    assert baseline.channels == 3 and not baseline.progressive
    assert progressive is not None and progressive.progressive
    assert progressive.decoded_bytes > baseline.decoded_bytes  # coefficients are kept
    assert grey is not None and grey.channels == 1


def test_other_formats_have_no_header_and_are_not_uploads() -> None:
    bmp = encode(".bmp", np.zeros((10, 10, 3), np.uint8))
    assert read_header(bmp) is None
    assert decode_image(bmp).shape == (10, 10, 3)  # the generic decoder still reads it
    with pytest.raises(ImageDecodeError, match="not a JPEG/PNG image"):
        decode_upload(bmp, "scan.bmp")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # no IHDR
        b"\xff\xd8\xff\xe0\x00\x01",  # segment length below 2
        b"\xff\xd8\xff\xda\x00\x08",  # scan before any frame header
        jpeg_declaring(0, 100),
    ],
)
def test_malformed_headers_are_refused_as_not_decodable(data: bytes) -> None:
    with pytest.raises(ImageDecodeError, match="not a decodable image"):
        decode_upload(data, "bad")


def test_bombs_are_refused_from_the_header() -> None:
    png = png_bomb(16000, 16000)
    jpeg = jpeg_declaring(20000, 20000)
    for name, data in (("bomb.png", png), ("bomb.jpg", jpeg)):
        with pytest.raises(ImageTooLarge, match="megapixels"):
            decode_upload(data, name)
    problems = oversized([("bomb.png", png), ("fine.png", encode(".png", np.zeros((8, 8))))])
    assert len(problems) == 1 and "16000x16000" in problems[0] and "bomb.png" in problems[0]
    # Just under the pixel limit but 16-bit RGBA: refused by decoded size, not pixel count.
    side = int((UPLOAD_LIMITS.max_pixels - 1) ** 0.5)
    header = bytearray(png_bomb(100, 100))
    struct.pack_into(">II", header, 16, side, side)
    with pytest.raises(ImageTooLarge, match="MB decoded"):
        decode_upload(bytes(header), "deep.png")


@pytest.mark.shared
def test_an_ordinary_photo_passes_unchanged(faces_dir: Path) -> None:
    data = (faces_dir / OBAMA).read_bytes()
    assert oversized([("obama.jpg", data)]) == []
    assert np.array_equal(decode_upload(data, "obama.jpg"), decode_image(data))
