"""Shared fixtures: where ../shared is, and the loud-skip rule for tests that need it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("MENWEI_SHARED", REPO.parent / "shared")).resolve()


def require_shared(*relative: str) -> Path:
    """Path inside ../shared; skip loudly if missing, fail if MENWEI_REQUIRE_SHARED=1."""
    path = shared_dir().joinpath(*relative)
    if not path.exists():
        message = f"needs {path} (set MENWEI_SHARED to the shared data folder)"
        if os.environ.get("MENWEI_REQUIRE_SHARED") == "1":
            pytest.fail(message + " and MENWEI_REQUIRE_SHARED=1", pytrace=False)
        pytest.skip("SHARED DATA MISSING: " + message)
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def models_mirror() -> Path:
    return require_shared("models")


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return require_shared("faces")
