"""A real SQLite store with the small test site (tests.store.conftest.build_world), per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.store import Store
from tests.sqlite_store import sqlite_store_in
from tests.store.conftest import World, build_world


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_in(tmp_path) as opened:
        yield opened


@pytest.fixture
def world(store: Store) -> World:
    return build_world(store)
