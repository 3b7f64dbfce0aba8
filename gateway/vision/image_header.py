"""What an encoded PNG or JPEG will cost to decode, read from its header alone.

A few kilobytes of PNG can declare 16000x16000 16-bit RGBA pixels: two gigabytes once decoded.
`read_header` parses only the PNG IHDR chunk or the JPEG frame header (SOFn), so callers can refuse
such an image before `cv2.imdecode` allocates anything. Other formats answer None (the caller
decides whether to accept them undecoded-size-unknown); a PNG or JPEG whose header is missing or
malformed raises `ImageDecodeError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gateway.vision.errors import ImageDecodeError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# PNG colour type -> channels OpenCV decodes it to (IMREAD_UNCHANGED): palette and grey+alpha are
# expanded to BGR(A), so count them at their decoded width.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}
_PNG_DEPTHS = {1, 2, 4, 8, 16}
# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
# Markers without a length field: TEM and RST0-7 (SOI/EOI never appear before the frame header).
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_JPEG_SOS = 0xDA


@dataclass(frozen=True)
class ImageHeader:
    """Format, declared size and sample layout of an encoded image."""

    format: str  # "png" or "jpeg"
    width: int
    height: int
    channels: int  # as decoded (a PNG palette counts as 4)
    bit_depth: int  # bits per sample as stored (PNG 1-16, JPEG 8 or 12)
    progressive: bool = False
    components: int = 0  # JPEG colour components as stored (1, 3 or 4); 0 for PNG

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decoded_bytes(self) -> int:
        """Bytes decoding takes at least: the raster (samples above 8 bits take two bytes), plus
        for a progressive JPEG the 16-bit coefficients libjpeg keeps for the whole image."""
        sample = 2 if self.bit_depth > 8 else 1
        raster = self.pixels * self.channels * sample
        return raster + (self.pixels * self.components * 2 if self.progressive else 0)

    def describe(self) -> str:
        return (
            f"{self.format.upper()} {self.width}x{self.height}, "
            f"{self.channels} channel(s) of {self.bit_depth} bit"
        )


def read_header(data: bytes, name: str = "<buffer>") -> ImageHeader | None:
    """The header of a PNG or JPEG; None for any other format."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data, name)
    if data.startswith(JPEG_SOI):
        return _jpeg(data, name)
    return None


def _bad(name: str, problem: str) -> ImageDecodeError:
    return ImageDecodeError(f"{name}: not a decodable image ({problem})")


def _png(data: bytes, name: str) -> ImageHeader:
    # The IHDR chunk must come first: length 13, "IHDR", width, height, depth, colour type, ...
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _bad(name, "PNG without an IHDR header")
    length, width, height, depth, colour = struct.unpack(">I4xIIBB", data[8:26])
    if length != 13 or width == 0 or height == 0:
        raise _bad(name, "PNG header declares an empty or malformed image")
    if depth not in _PNG_DEPTHS or colour not in _PNG_CHANNELS:
        raise _bad(name, f"PNG header with bit depth {depth}, colour type {colour}")
    return ImageHeader("png", width, height, _PNG_CHANNELS[colour], depth)


def _jpeg(data: bytes, name: str) -> ImageHeader:
    position = 2
    size = len(data)
    while position < size:
        if data[position] != 0xFF:
            raise _bad(name, f"JPEG marker expected at byte {position}")
        while position < size and data[position] == 0xFF:  # fill bytes
            position += 1
        if position >= size:
            break
        marker = data[position]
        position += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == _JPEG_SOS or position + 2 > size:
            break
        (length,) = struct.unpack(">H", data[position : position + 2])
        if length < 2:
            raise _bad(name, f"JPEG segment with length {length}")
        if marker in _JPEG_SOF:
            return _jpeg_frame(data[position + 2 : position + length], marker, name)
        position += length
    raise _bad(name, "JPEG without a frame header")


def _jpeg_frame(segment: bytes, marker: int, name: str) -> ImageHeader:
    if len(segment) < 6:
        raise _bad(name, "truncated JPEG frame header")
    precision, height, width, components = struct.unpack(">BHHB", segment[:6])
    if width == 0 or height == 0:  # height 0 defers it to a DNL marker: not accepted
        raise _bad(name, "JPEG frame header declares no size")
    if components not in (1, 3, 4):
        raise _bad(name, f"JPEG with {components} components")
    channels = 1 if components == 1 else 3  # CMYK and YCCK are decoded to BGR
    progressive = marker in _JPEG_PROGRESSIVE
    return ImageHeader("jpeg", width, height, channels, precision, progressive, components)
