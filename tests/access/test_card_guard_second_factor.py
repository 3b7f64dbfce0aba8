"""The card-reader guard (unknown-card bursts lock the reader) and the second-factor waits, on a
fake clock."""

from __future__ import annotations

import threading

from gateway.access.card_guard import ReaderLocked, ReaderUnlocked, UnknownCardGuard
from gateway.access.second_factor import MAX_WAITS, SecondFactorWaits
from gateway.config.access import CardReaderConfig
from gateway.store.base import Method


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_locks_a_slow_trickle_does_not() -> None:
    clock = Clock()
    guard = UnknownCardGuard(CardReaderConfig(max_unknown_cards=5, window_s=60), clock)
    for _ in range(4):
        assert guard.unknown_card() is None
        clock.now += 16  # 4 per minute: below the burst
    assert guard.unknown_card() is None and not guard.locked  # the oldest left the window
    locked = guard.unknown_card()  # the fifth within 60 s
    assert locked == ReaderLocked(5, 60, CardReaderConfig().lockout_s) and guard.locked


def test_unknown_cards_while_locked_extend_the_lockout_known_ones_do_not() -> None:
    clock = Clock()
    config = CardReaderConfig(max_unknown_cards=2, lockout_s=100)
    guard = UnknownCardGuard(config, clock)
    guard.unknown_card()
    assert guard.unknown_card() is not None
    clock.now += 90
    guard.refuse_while_locked(known=True)
    clock.now += 11
    assert not guard.locked  # a registered card does not prolong it
    guard = UnknownCardGuard(config, clock)
    guard.unknown_card()
    guard.unknown_card()
    for _ in range(5):  # the sweep goes on: the reader stays locked
        clock.now += 90
        guard.refuse_while_locked(known=False)
        assert guard.locked and guard.ended() is None
    clock.now += 101
    assert guard.ended() == ReaderUnlocked(5, 100 + 5 * 90)
    assert guard.ended() is None  # reported once


def test_a_wait_is_completed_once_by_another_kind_in_time() -> None:
    clock = Clock()
    waits = SecondFactorWaits(20, clock)
    waits.begin(7, Method.FACE)
    assert not waits.complete(7, Method.FACE)  # the same kind is not a second factor
    assert not waits.complete(8, Method.PIN)  # nor another person's credential
    assert waits.waiting_for_pin() == 7
    assert waits.complete(7, Method.PIN)
    assert not waits.complete(7, Method.PIN)  # used up
    waits.begin(7, Method.CARD)
    clock.now += 20.1
    assert not waits.complete(7, Method.PIN) and waits.waiting_for_pin() is None


def test_a_pin_started_wait_is_not_offered_to_a_bare_pin_and_waits_are_bounded() -> None:
    clock = Clock()
    waits = SecondFactorWaits(20, clock)
    waits.begin(1, Method.PIN)
    assert waits.waiting_for_pin() is None
    waits.begin(2, Method.CARD)
    waits.begin(3, Method.FACE)
    assert waits.waiting_for_pin() == 3  # the newest
    for person in range(100, 100 + 2 * MAX_WAITS):
        waits.begin(person, Method.FACE)
    assert len(waits.pending()) == MAX_WAITS
    assert waits.counters["dropped"] == MAX_WAITS + 3


def test_waits_are_safe_across_the_vision_and_door_threads() -> None:
    clock = Clock()
    waits = SecondFactorWaits(20, clock)
    completed: list[bool] = []

    def faces() -> None:
        for _ in range(2000):
            waits.begin(1, Method.FACE)

    def pins() -> None:
        for _ in range(2000):
            completed.append(waits.complete(1, Method.PIN))

    threads = [threading.Thread(target=faces), threading.Thread(target=pins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert waits.counters["completed"] == sum(completed) <= waits.counters["begun"]
