"""Wiegand codec and edge decoder: round trips, parity, keypad forms, noise rejection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.counters import Counters
from firmware_bridge.wiegand import (
    CARD_FORMATS,
    CardRead,
    KeypadKey,
    RawFrame,
    WiegandError,
    decode,
    encode_card,
    encode_key,
)
from firmware_bridge.wiegand_edges import RejectedFrame, WiegandEdgeDecoder, pulses_for

cards = st.sampled_from(sorted(CARD_FORMATS)).flatmap(
    lambda bits: st.tuples(
        st.just(bits),
        st.integers(0, CARD_FORMATS[bits].max_facility),
        st.integers(0, CARD_FORMATS[bits].max_card),
    )
)


def test_known_26_bit_vector() -> None:
    # HID H10301 facility 1, card 1: parity bits computed by hand.
    bits = encode_card(26, 1, 1)
    assert bits == "1" + "00000001" + "0000000000000001" + "0"
    assert decode(bits) == CardRead(26, 1, 1, bits)
    assert encode_card(26, 255, 65535) == "0" + "1" * 24 + "1"


@given(cards)
def test_card_round_trip(card: tuple[int, int, int]) -> None:
    format_bits, facility, number = card
    bits = encode_card(format_bits, facility, number)
    assert len(bits) == format_bits
    assert decode(bits) == CardRead(format_bits, facility, number, bits)


@given(cards, st.data())
def test_any_single_flipped_bit_is_rejected(
    card: tuple[int, int, int], data: st.DataObject
) -> None:
    bits = encode_card(*card)
    index = data.draw(st.integers(0, len(bits) - 1))
    flipped = bits[:index] + ("1" if bits[index] == "0" else "0") + bits[index + 1 :]
    with pytest.raises(WiegandError) as caught:
        decode(flipped)
    assert caught.value.reason == "parity"


@pytest.mark.parametrize("key", list("0123456789*#"))
def test_keypad_round_trip_both_widths(key: str) -> None:
    assert decode(encode_key(key, 4)) == KeypadKey(key, encode_key(key, 4))
    assert decode(encode_key(key, 8)) == KeypadKey(key, encode_key(key, 8))
    assert encode_key("5", 8) == "10100101"


@given(st.sampled_from(list("0123456789*#")), st.integers(0, 7))
def test_eight_bit_key_single_flip_rejected(key: str, index: int) -> None:
    bits = encode_key(key, 8)
    flipped = bits[:index] + ("1" if bits[index] == "0" else "0") + bits[index + 1 :]
    with pytest.raises(WiegandError):
        decode(flipped)


@pytest.mark.parametrize(
    ("bits", "reason"),
    [
        ("101", "too_short"),
        ("1" * 10, "too_short"),
        ("1100", "keypad_value"),
        ("1" * 129, "too_long"),
        ("10x1", "not_binary"),
        ("", "too_short"),
    ],
)
def test_invalid_frames_name_their_reason(bits: str, reason: str) -> None:
    with pytest.raises(WiegandError) as caught:
        decode(bits)
    assert caught.value.reason == reason


@given(
    st.integers(12, 128)
    .filter(lambda n: n not in CARD_FORMATS)
    .flatmap(lambda n: st.text("01", min_size=n, max_size=n))
)
def test_other_lengths_pass_through_raw(bits: str) -> None:
    assert decode(bits) == RawFrame(bits)


def test_encode_rejects_out_of_range_and_unknown_format() -> None:
    with pytest.raises(WiegandError, match="facility 256"):
        encode_card(26, 256, 1)
    with pytest.raises(WiegandError, match="unknown_format"):
        encode_card(30, 1, 1)
    with pytest.raises(WiegandError, match="unknown_key"):
        encode_key("A")


# --- edge decoder ---------------------------------------------------------------------------

GAP_NS = 25_000_000


def feed(decoder: WiegandEdgeDecoder, edges: list[tuple[int, bool, int]]) -> list[object]:
    out: list[object] = []
    for line, asserted, at in edges:
        out.extend(decoder.edge(line, asserted, at))
    return out


@given(cards, st.integers(20_000, 100_000), st.integers(200_000, 20_000_000))
def test_edges_decode_to_card_at_any_sia_timing(
    card: tuple[int, int, int], pulse_ns: int, interval_ns: int
) -> None:
    counters = Counters()
    decoder = WiegandEdgeDecoder(GAP_NS, 5_000, counters)
    bits = encode_card(*card)
    edges = pulses_for(bits, pulse_ns, interval_ns, 1_000)
    assert feed(decoder, edges) == []
    end = edges[-1][2]
    assert decoder.flush(end + GAP_NS - 1) == []
    assert decoder.flush(end + GAP_NS) == [CardRead(card[0], card[1], card[2], bits)]
    assert counters.snapshot() == {}


def test_two_frames_split_by_gap_without_flush() -> None:
    decoder = WiegandEdgeDecoder(GAP_NS, 5_000, Counters())
    first = pulses_for(encode_key("1"), 50_000, 1_000_000, 0)
    second = pulses_for(encode_key("#"), 50_000, 1_000_000, 100_000_000)
    results = feed(decoder, first + second)
    assert results == [KeypadKey("1", "0001")]
    assert decoder.flush(10**9) == [KeypadKey("#", "1011")]


@given(cards, st.data())
def test_overlapping_pulses_are_rejected_and_counted(
    card: tuple[int, int, int], data: st.DataObject
) -> None:
    counters = Counters()
    decoder = WiegandEdgeDecoder(GAP_NS, 5_000, counters)
    bits = encode_card(*card)
    edges = pulses_for(bits, 50_000, 1_000_000, 0)
    index = data.draw(st.integers(0, len(bits) - 1))
    at = index * 1_000_000 + 10_000
    other = 1 - int(bits[index])
    edges += [(other, True, at), (other, False, at + 60_000)]
    edges.sort(key=lambda edge: edge[2])
    feed(decoder, edges)
    [result] = decoder.flush(10**10)
    assert isinstance(result, RejectedFrame) and result.reason == "overlap"
    assert counters.get("rejected.wiegand.overlap") == 1


@given(st.text("01", min_size=1, max_size=11).filter(lambda b: len(b) not in (4, 8)))
def test_short_noise_bursts_rejected_and_counted(bits: str) -> None:
    counters = Counters()
    decoder = WiegandEdgeDecoder(GAP_NS, 5_000, counters)
    feed(decoder, pulses_for(bits, 50_000, 1_000_000, 0))
    [result] = decoder.flush(10**10)
    assert isinstance(result, RejectedFrame) and result.reason == "too_short"
    assert counters.get("rejected.wiegand.too_short") == 1


def test_wrong_parity_glitch_and_stuck_line_counted() -> None:
    counters = Counters()
    decoder = WiegandEdgeDecoder(GAP_NS, 5_000, counters)
    bad = encode_card(26, 10, 20)
    bad = ("1" if bad[0] == "0" else "0") + bad[1:]
    feed(decoder, pulses_for(bad, 50_000, 1_000_000, 0))
    assert [r.reason for r in decoder.flush(10**9)] == ["parity"]  # type: ignore[union-attr]
    feed(decoder, pulses_for(encode_card(26, 1, 2), 1_000, 1_000_000, 2 * 10**9))
    assert [r.reason for r in decoder.flush(3 * 10**9)] == ["glitch"]  # type: ignore[union-attr]
    decoder.edge(0, True, 4 * 10**9)
    assert [r.reason for r in decoder.flush(5 * 10**9)] == ["stuck"]  # type: ignore[union-attr]
    assert counters.total("rejected.wiegand.") == 3
