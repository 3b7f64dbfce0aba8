"""The visitor-call state machine: one answer per call, within its window, at its door; limits."""

from __future__ import annotations

import itertools

import pytest

from gateway.access.visitor_call import (
    Answered,
    AnswerRefused,
    CallRefused,
    CallState,
    Placed,
    VisitorCalls,
    in_span,
    quiet_minutes,
)
from gateway.config.access import VisitorCallConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.minute = 12 * 60  # noon, site time

    def __call__(self) -> float:
        return self.now


def _calls(clock: Clock, **config: object) -> VisitorCalls:
    ids = (f"call-{n}" for n in itertools.count(1))
    return VisitorCalls(
        VisitorCallConfig.model_validate(config), clock, lambda: clock.minute, lambda: next(ids)
    )


def _placed(outcome: Placed | CallRefused) -> Placed:
    assert isinstance(outcome, Placed), outcome
    return outcome


def test_one_accept_within_the_window_and_nothing_after() -> None:
    clock = Clock()
    calls = _calls(clock)
    call = _placed(calls.place("main", "1201")).call
    assert call.ring_until == clock.now + 45.0  # the default ring window
    clock.now += 44.0
    first = calls.answer(call.call_id, "main", accept=True)
    assert isinstance(first, Answered) and first.call.state is CallState.ACCEPTED
    second = calls.answer(call.call_id, "main", accept=True)
    assert second == AnswerRefused("call_ended", first.call)
    assert calls.ringing == []


def test_decline_ends_the_call() -> None:
    clock = Clock()
    calls = _calls(clock)
    call = _placed(calls.place("main", "1201")).call
    declined = calls.answer(call.call_id, "main", accept=False)
    assert isinstance(declined, Answered) and declined.call.state is CallState.DECLINED
    refused = calls.answer(call.call_id, "main", accept=True)
    assert isinstance(refused, AnswerRefused) and refused.reason == "call_ended"


def test_missed_after_the_window_and_a_late_accept_is_refused() -> None:
    clock = Clock()
    calls = _calls(clock, ring_s=30.0)
    late = _placed(calls.place("main", "1201")).call
    expiring = _placed(calls.place("main", "1202")).call
    assert calls.next_deadline() == late.ring_until
    clock.now += 29.9
    assert calls.expire() == []
    clock.now += 0.1
    refused = calls.answer(late.call_id, "main", accept=True)
    assert isinstance(refused, AnswerRefused) and refused.reason == "call_window_passed"
    assert refused.call is not None and refused.call.state is CallState.MISSED
    [missed] = calls.expire()
    assert missed.call_id == expiring.call_id and missed.state is CallState.MISSED
    assert calls.next_deadline() is None
    again = calls.answer(expiring.call_id, "main", accept=True)
    assert isinstance(again, AnswerRefused) and again.reason == "call_ended"


def test_answers_for_unknown_calls_or_another_door_change_nothing() -> None:
    clock = Clock()
    calls = _calls(clock)
    call = _placed(calls.place("main", "1201")).call
    assert calls.answer("call-999", "main", accept=True) == AnswerRefused("unknown_call")
    wrong = calls.answer(call.call_id, "side", accept=True)
    assert isinstance(wrong, AnswerRefused) and wrong.reason == "wrong_door"
    assert [ringing.call_id for ringing in calls.ringing] == [call.call_id]
    assert isinstance(calls.answer(call.call_id, "main", accept=True), Answered)


def test_per_door_and_per_unit_rate_limits() -> None:
    clock = Clock()
    calls = _calls(clock, door_max_calls=4, door_window_s=60.0, unit_max_calls=2)
    assert isinstance(calls.place("main", "1201"), Placed)
    assert isinstance(calls.place("main", "1201"), Placed)
    assert calls.place("main", "1201") == CallRefused("call_unit_rate_limited")
    assert isinstance(calls.place("main", "1202"), Placed)
    assert isinstance(calls.place("main", "1203"), Placed)
    assert calls.place("main", "1204") == CallRefused("call_door_rate_limited")
    assert isinstance(calls.place("side", "1204"), Placed)  # another door has its own budget
    clock.now += 60.0
    assert isinstance(calls.place("main", "1204"), Placed)  # the door window moved on
    assert calls.place("main", "1201") == CallRefused("call_unit_rate_limited")  # 300 s


def test_refused_calls_do_not_spend_the_budget() -> None:
    clock = Clock()
    calls = _calls(clock, door_max_calls=2, unit_max_calls=1)
    assert isinstance(calls.place("main", "1201"), Placed)
    for _ in range(20):
        assert calls.place("main", "1201") == CallRefused("call_unit_rate_limited")
    assert isinstance(calls.place("main", "1202"), Placed)
    assert calls.counters["placed"] == 2


def test_quiet_hours_wrap_midnight() -> None:
    clock = Clock()
    calls = _calls(clock, quiet_hours={"1201": "22:00-07:00"})
    clock.minute = 23 * 60
    assert calls.place("main", "1201") == CallRefused("call_quiet_hours")
    assert isinstance(calls.place("main", "1202"), Placed)  # other units are not quiet
    clock.minute = 6 * 60 + 59
    assert calls.place("main", "1201") == CallRefused("call_quiet_hours")
    clock.minute = 7 * 60
    assert isinstance(calls.place("main", "1201"), Placed)


def test_spans() -> None:
    assert quiet_minutes("22:00-07:30") == (1320, 450)
    assert in_span(12 * 60, (9 * 60, 17 * 60)) and not in_span(17 * 60, (9 * 60, 17 * 60))
    with pytest.raises(ValueError):
        quiet_minutes("25:00-07:00")
    with pytest.raises(ValueError):
        VisitorCallConfig.model_validate({"quiet_hours": {"1201": "22-7"}})


def test_one_door_calling_many_units_alerts_once_per_window() -> None:
    clock = Clock()
    calls = _calls(clock, scan_units=3, scan_window_s=60.0, door_max_calls=100)
    alerts = []
    for unit in ("1101", "1102", "1102", "1103", "1104", "1105"):
        clock.now += 1.0
        alerts.append(_placed(calls.place("main", unit)).alert)
    raised = [alert for alert in alerts if alert is not None]
    assert len(raised) == 1 and raised[0].units == 3 and alerts[3] is raised[0]
    clock.now += 61.0
    for unit in ("1201", "1202", "1203"):
        alert = _placed(calls.place("main", unit)).alert
    assert alert is not None and alert.units == 3  # a new window, a new alert
