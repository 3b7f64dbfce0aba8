"""Command group placeholder; replaced by the real implementation."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Nothing registered yet."""
