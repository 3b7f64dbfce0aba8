"""The door thread's grant queue: a queued release never outlives its own deadline. The loop is
the real one, with the real policy, keypad and alerts over a store (tests.access.door_rig)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.runtime.door_loop import GRANT_TTL_NS
from gateway.store.crypto import generate_key_file
from gateway.store.store import open_store
from tests.access.door_rig import DoorRig, door_rig
from tests.store.conftest import build_world, store_config


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[DoorRig]:
    key = tmp_path / "template.key"
    generate_key_file(key)
    store = open_store(store_config(f"sqlite:///{tmp_path / 'menwei.db'}", key, tmp_path))
    try:
        with door_rig(store, build_world(store).door_id) as running:
            yield running
    finally:
        store.close()


def test_a_grant_past_its_own_deadline_is_dropped_not_applied(rig: DoorRig) -> None:
    rig.loop.request_grant("remote:x", "g1", not_after_ns=rig.clock() + 50_000_000)
    rig.clock.advance(0.1)  # the door thread got to it 100 ms later
    rig.loop.run_once(0.0)
    assert rig.release_count() == 0
    assert rig.loop.door.counters.get("rejected.grant.expired") == 1


def test_a_grant_within_its_deadline_releases_and_the_ttl_still_caps_it(rig: DoorRig) -> None:
    rig.loop.request_grant("remote:x", "g2", not_after_ns=rig.clock() + 10 * GRANT_TTL_NS)
    rig.clock.advance((GRANT_TTL_NS + 1) / 1e9)  # beyond the door's own grant lifetime
    rig.loop.run_once(0.0)
    assert rig.release_count() == 0
    rig.loop.request_grant("face:1", "g3")
    rig.loop.run_once(0.0)
    assert rig.release_count() == 1 and rig.io.relay_energised
