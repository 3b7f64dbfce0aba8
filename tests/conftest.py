"""Shared fixtures: where ../shared is, the loud-skip rule for tests that need it, and the one
embedding cache of the session (so the suite embeds each image once per model)."""

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


@pytest.fixture(scope="session")
def embeddings_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for this session's embedding caches, one `.npz` per model id (see
    `gateway.eval.embedding_cache`, which keys every file by model and settings): tests that embed
    the same photos with the same model (LFW for `eval verify` and the recognition tests) pass
    `embeddings_cache / f"{model_id}.npz"` and embed each image once. Fresh every session, so a
    code change in detection or alignment is always measured."""
    return tmp_path_factory.mktemp("embeddings")
