"""Gap detection and replay scheduling (pure): gaps from a skipped seq and from the gateway's
status watermark, closed by replayed messages, asked again after retry_s, given up after
`attempts`, split at the gateway's max_replay."""

from __future__ import annotations

from station_console.config import ReplaySection
from station_console.sequence import ReplayRequest, SequenceBook

POLICY = ReplaySection(grace_s=1.0, retry_s=10.0, attempts=2, max_per_command=100)


def test_skipped_seq_is_a_gap_replayed_after_the_grace() -> None:
    book = SequenceBook(POLICY)
    entry = book.of("s", "g")
    for seq in (1, 2, 5):
        entry.observe(seq, now=0.0)
    assert entry.missing == {3, 4} and entry.complete_up_to == 2
    assert book.due(0.5) == []  # within the grace: may still arrive
    assert book.due(1.0) == [ReplayRequest("s", "g", 3, 4)]
    assert book.due(2.0) == []  # asked; waits retry_s
    entry.observe(4, 3.0)
    entry.observe(3, 3.0)
    assert entry.missing == set() and entry.complete_up_to == 5
    assert book.due(20.0) == []


def test_watermark_reveals_a_lost_tail_and_attempts_are_bounded() -> None:
    book = SequenceBook(POLICY)
    entry = book.of("s", "g")
    entry.observe(1, 0.0)
    entry.expect_up_to(250, 0.0)  # the status says 250 were delivered; we hold 1
    assert len(entry.missing) == 249
    assert book.due(1.0) == [ReplayRequest("s", "g", 2, 101)]  # capped at max_per_command
    assert book.due(11.0) == [ReplayRequest("s", "g", 2, 101)]
    assert book.due(22.0) == []  # two attempts: given up, and said so
    assert book.abandoned[("s", "g")] == entry.missing


def test_restart_rebuilds_missing_from_what_is_stored() -> None:
    book = SequenceBook(POLICY)
    book.load("s", "g", complete_up_to=10, highest=15, stored={11, 12, 14, 15})
    assert book.of("s", "g").missing == {13}
    assert book.of("s", "g").complete_up_to == 12
