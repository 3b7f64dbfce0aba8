"""The uuid7 helper: version and variant bits, embedded time, and ordering."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from gateway.store.uuid7 import uuid7, uuid7_millis


@given(st.integers(min_value=0, max_value=(1 << 48) - 1))
def test_version_variant_and_time_round_trip(unix_ms: int) -> None:
    value = uuid7(unix_ms)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert uuid7_millis(value) == unix_ms


def test_ids_made_in_a_row_increase_even_within_one_millisecond() -> None:
    ids = [uuid7(1_700_000_000_000) for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    later = uuid7(1_700_000_000_001)
    assert later > ids[-1]


def test_default_time_is_now() -> None:
    import time

    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= uuid7_millis(value) <= after


def test_not_a_uuid7_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="version-7"):
        uuid7_millis(uuid.uuid4())
