"""Frame codec and message layouts shared with the firmware: round trips, resync, corruption."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.protocol import frames, messages

payloads = st.binary(max_size=frames.MAX_PAYLOAD)
seqs = st.integers(0, 255)
types = st.integers(0, 255)


def test_crc_is_ccitt_false() -> None:
    assert frames.crc16(b"123456789") == 0x29B1


@given(seqs, types, payloads, st.data())
def test_round_trip_in_arbitrary_chunks(
    seq: int, kind: int, payload: bytes, data: st.DataObject
) -> None:
    wire = frames.encode_frame(seq, kind, payload) * 2
    cut = data.draw(st.integers(0, len(wire)))
    parser = frames.FrameParser()
    parsed = parser.feed(wire[:cut]) + parser.feed(wire[cut:])
    assert parsed == [(seq, kind, payload)] * 2
    assert parser.errors == {"crc": 0, "oversized": 0, "junk": 0}


@given(st.binary(max_size=300), seqs, types, payloads)
def test_garbage_before_a_frame_is_skipped_and_counted(
    garbage: bytes, seq: int, kind: int, payload: bytes
) -> None:
    parser = frames.FrameParser()
    frame = frames.encode_frame(seq, kind, payload)
    parsed = parser.feed(garbage + bytes(frames.MAX_FRAME) + frame)
    assert parsed[-1] == (seq, kind, payload)
    assert sum(parser.errors.values()) > 0


@given(seqs, types, payloads, st.data())
def test_a_corrupted_byte_never_delivers_the_frame(
    seq: int, kind: int, payload: bytes, data: st.DataObject
) -> None:
    frame = bytearray(frames.encode_frame(seq, kind, payload))
    index = data.draw(st.integers(0, len(frame) - 1))
    frame[index] ^= data.draw(st.integers(1, 255))
    parser = frames.FrameParser()
    parsed = parser.feed(bytes(frame) + bytes(frames.MAX_FRAME))
    assert (seq, kind, payload) not in parsed


def test_oversized_payload_refused_on_both_ends() -> None:
    with pytest.raises(ValueError, match="exceeds 64"):
        frames.encode_frame(1, messages.RELEASE, bytes(65))
    parser = frames.FrameParser()
    good = frames.encode_frame(2, messages.SECURE)
    assert parser.feed(bytes([frames.SYNC, 200, 1, 1]) + good) == [(2, messages.SECURE, b"")]
    assert parser.errors["oversized"] == 1


@given(st.text("01", max_size=messages.MAX_WIEGAND_BITS))
def test_bit_fields_round_trip(bits: str) -> None:
    assert messages.unpack_bits(messages.pack_bits(bits)) == (bits, b"")


def test_message_payload_checks() -> None:
    with pytest.raises(ValueError):
        messages.unpack_release(b"\x00\x01")
    with pytest.raises(ValueError, match="unknown input 9"):
        messages.unpack_input(messages.pack_input(9, 1, 0))
    with pytest.raises(ValueError, match="does not fit"):
        messages.unpack_bits(b"\x20\x00")
    assert (
        messages.ticks_diff(
            messages.ticks_add(messages.TICKS_PERIOD - 5, 10), messages.TICKS_PERIOD - 5
        )
        == 10
    )


def test_deduplicator_recognises_retransmissions_only() -> None:
    dedup = frames.Deduplicator()
    assert not dedup.is_duplicate(7)
    dedup.accept(7, b"reply")
    assert dedup.is_duplicate(7) and dedup.last_reply == b"reply"
    assert not dedup.is_duplicate(8) and not dedup.is_duplicate(0)
    assert frames.next_seq(255) == 1
