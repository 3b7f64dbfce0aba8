"""Keypad entry: codes end with '#', resident PINs are '# number # PIN #', '*' clears, wrong codes
and PINs lock the keypad, floods are dropped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.access.keypad import (
    CallSubmitted,
    CodeSubmitted,
    KeypadEntry,
    KeypadLocked,
    KeyRejected,
    PinSubmitted,
)
from gateway.config.access import KeypadConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _type(pad: KeypadEntry, clock: Clock, keys: str, gap: float = 0.3) -> list[object]:
    outcomes = []
    for key in keys:
        clock.now += gap
        outcome = pad.press(key)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def test_code_is_submitted_on_hash_and_hidden_from_repr() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(), clock)
    [outcome] = _type(pad, clock, "123456#")
    assert isinstance(outcome, CodeSubmitted) and outcome.code == "123456"
    assert "123456" not in repr(outcome)


def test_star_clears_and_stale_digits_expire() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(entry_timeout_s=5), clock)
    assert _type(pad, clock, "99*1234#") == [CodeSubmitted("1234")]
    _type(pad, clock, "77")
    clock.now += 6  # walked away
    assert _type(pad, clock, "4321#") == [CodeSubmitted("4321")]


def test_short_code_and_overflow_are_rejected() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(min_code_length=4, max_code_length=6), clock)
    assert _type(pad, clock, "12#") == [KeyRejected("too_short")]
    assert KeyRejected("overflow") in _type(pad, clock, "1234567")
    assert pad.counters["rejected.overflow"] == 1


def test_five_wrong_codes_lock_for_thirty_seconds_then_unlock() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(), clock)
    alerts = []
    for attempt in range(5):
        [submitted] = _type(pad, clock, f"00{attempt}000#")
        assert isinstance(submitted, CodeSubmitted)
        result = pad.record_result(accepted=False)
        if result:
            alerts.append(result)
    assert len(alerts) == 1 and isinstance(alerts[0], KeypadLocked)
    assert alerts[0].until == clock.now + 30
    assert pad.locked
    assert _type(pad, clock, "123456#") == [KeyRejected("locked")] * 7
    clock.now += 30
    assert not pad.locked
    assert _type(pad, clock, "123456#") == [CodeSubmitted("123456")]


def test_a_good_code_resets_the_failure_count() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(max_failures=3), clock)
    for _ in range(2):
        _type(pad, clock, "111111#")
        assert pad.record_result(False) is None
    _type(pad, clock, "222222#")
    pad.record_result(True)
    assert pad.consecutive_failures == 0


def test_a_flood_of_keys_is_dropped_and_counted() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(max_keys_per_second=10), clock)
    outcomes = _type(pad, clock, "1" * 50 + "#", gap=0.001)
    assert not any(isinstance(o, CodeSubmitted) for o in outcomes)
    assert pad.counters["rejected.flood"] >= 30


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(list("0123456789*#x")), max_size=60),
    st.lists(st.booleans(), max_size=20),
)
def test_never_more_than_max_failures_without_a_lockout(
    keys: list[str], verdicts: list[bool]
) -> None:
    clock = Clock()
    config = KeypadConfig()
    pad = KeypadEntry(config, clock)
    answers = iter(verdicts)
    wrong_in_a_row = 0
    for key in keys:
        clock.now += 0.5
        outcome = pad.press(key)
        if isinstance(outcome, CodeSubmitted | PinSubmitted):
            assert pad.consecutive_failures < config.max_failures
            accepted = next(answers, False)
            locked = pad.record_result(accepted)
            wrong_in_a_row = 0 if accepted or locked else wrong_in_a_row + 1
            assert wrong_in_a_row < config.max_failures
        elif pad.locked:
            assert outcome == KeyRejected("locked") or key in "*#"


def test_resident_number_and_pin_are_submitted_together_and_hidden() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(), clock)
    [outcome] = _type(pad, clock, "#17#482916#")
    assert outcome == PinSubmitted("17", "482916")
    assert "482916" not in repr(outcome) and "17" in repr(outcome)
    assert pad.counters["pin_submitted"] == 1
    # the visitor-code form is unchanged after it
    assert _type(pad, clock, "123456#") == [CodeSubmitted("123456")]


def test_resident_entry_is_cleared_by_star_timeout_and_bad_lengths() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(entry_timeout_s=5, max_resident_number_length=4), clock)
    assert _type(pad, clock, "#17#48*1234#") == [CodeSubmitted("1234")]  # '*' left PIN mode
    assert _type(pad, clock, "###") == [KeyRejected("too_short")]  # no unit to call
    assert _type(pad, clock, "#17#123#") == [KeyRejected("too_short")]  # PIN too short
    assert _type(pad, clock, "#12345") == [KeyRejected("overflow")]
    assert _type(pad, clock, "#1#" + "1" * 13) == [KeyRejected("overflow")]
    _type(pad, clock, "#17#4829")
    clock.now += 6  # walked away mid-PIN: the half-typed PIN is not joined to new digits
    assert _type(pad, clock, "16#") == [KeyRejected("too_short")]


def test_hash_hash_unit_hash_calls_the_unit() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(), clock)
    assert _type(pad, clock, "##1201#") == [CallSubmitted("1201")]
    assert _type(pad, clock, "##12*123456#") == [CodeSubmitted("123456")]  # '*' left call mode
    assert _type(pad, clock, "##123456789") == [KeyRejected("overflow")]
    assert pad.counters["call_submitted"] == 1


def test_wrong_pins_and_wrong_codes_share_the_lockout() -> None:
    clock = Clock()
    pad = KeypadEntry(KeypadConfig(max_failures=3), clock)
    _type(pad, clock, "#17#000000#")
    assert pad.record_result(False) is None
    _type(pad, clock, "999999#")
    assert pad.record_result(False) is None
    _type(pad, clock, "#17#111111#")
    assert isinstance(pad.record_result(False), KeypadLocked)
    assert _type(pad, clock, "#17#482916#")[0] == KeyRejected("locked")
