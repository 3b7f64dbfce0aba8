"""A real SQLite store with the small test site (tests.store.conftest.build_world), per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.store import Store, open_store
from tests.store.conftest import World, build_world, store_config


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    from gateway.store.crypto import generate_key_file

    key = tmp_path / "template.key"
    generate_key_file(key)
    opened = open_store(store_config(f"sqlite:///{tmp_path / 'menwei.db'}", key, tmp_path))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def world(store: Store) -> World:
    return build_world(store)
