"""The visitor-code QR encoder, checked by decoding its output with OpenCV's QR detector."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from provisioning.qr import qr_matrix, qr_svg


def decode(matrix: list[list[bool]]) -> str:
    modules = np.array(matrix, dtype=bool)
    image = np.where(modules, 0, 255).astype(np.uint8)
    image = np.pad(image, 4, constant_values=255)
    image = cv2.resize(image, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


@pytest.mark.parametrize(
    ("payload", "size"),
    [
        ("482913", 21),  # version 1
        ("menwei:482913:unit-1-1101", 25),  # version 2
        ("X" * 40, 29),  # version 3
        ("https://menwei.local/codes/123456?unit=1-1101&valid=2026", 33),  # version 4, 2 blocks
    ],
)
def test_encoded_payload_decodes_back(payload: str, size: int) -> None:
    matrix = qr_matrix(payload)
    assert len(matrix) == size
    assert decode(matrix) == payload


def test_too_long_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="version-4"):
        qr_matrix("x" * 100)


def test_svg_has_a_quiet_zone_and_only_geometry() -> None:
    svg = qr_svg("123456")
    assert svg.startswith("<svg") and 'viewBox="0 0 29 29"' in svg
    assert "123456" not in svg
