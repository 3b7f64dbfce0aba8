"""Wiegand codec: pure functions between bit strings and card numbers or keypad keys.

Card formats (bit 0 is the first bit on the wire):

* 26-bit H10301: even parity over bits 1-12, 8-bit facility, 16-bit card, odd parity over 13-24.
* 34-bit H10306: even parity over bits 1-16, 16-bit facility, 16-bit card, odd over 17-32.
* 37-bit H10304: even parity over bits 1-18, 16-bit facility, 19-bit card, odd over 18-35.

Keypads send one frame per key: 4 bits (value 0-9, 10 = '*', 11 = '#') or 8 bits whose high
nibble is the complement of the low one. Frames of other lengths between `RAW_MIN_BITS` and
`MAX_BITS` are passed through as raw; anything else is rejected with a `WiegandError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CardFormatBits = Literal[26, 34, 37]
RAW_MIN_BITS = 12
MAX_BITS = 128
KEYPAD_KEYS = "0123456789*#"


class WiegandError(ValueError):
    """A frame that is not valid; `reason` is a short stable code used as a counter name."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CardFormat:
    """Field layout of one card format; parity spans are half-open ranges of the data bits
    (frame indices) each parity bit covers, the parity bit itself excluded."""

    bits: int
    facility_bits: int
    card_bits: int
    even_span: tuple[int, int]
    odd_span: tuple[int, int]

    @property
    def max_facility(self) -> int:
        return (1 << self.facility_bits) - 1

    @property
    def max_card(self) -> int:
        return (1 << self.card_bits) - 1


CARD_FORMATS: dict[int, CardFormat] = {
    26: CardFormat(26, 8, 16, (1, 13), (13, 25)),
    34: CardFormat(34, 16, 16, (1, 17), (17, 33)),
    37: CardFormat(37, 16, 19, (1, 19), (18, 36)),
}


@dataclass(frozen=True)
class CardRead:
    """A card frame with valid parity."""

    format_bits: int
    facility: int
    card: int
    bits: str


@dataclass(frozen=True)
class KeypadKey:
    """One key from a Wiegand keypad: '0'-'9', '*' or '#'."""

    key: str
    bits: str


@dataclass(frozen=True)
class RawFrame:
    """A frame of a length this codec has no layout for, passed through unchanged."""

    bits: str


WiegandRead = CardRead | KeypadKey | RawFrame


def _ones(bits: str, span: tuple[int, int]) -> int:
    return bits[span[0] : span[1]].count("1")


def _check_bits(bits: str) -> None:
    if bits.strip("01"):
        raise WiegandError("not_binary", f"frame must contain only 0 and 1, got {bits!r}")


def encode_card(format_bits: int, facility: int, card: int) -> str:
    """Bit string of a card frame, parity bits included."""
    layout = CARD_FORMATS.get(format_bits)
    if layout is None:
        raise WiegandError(
            "unknown_format",
            f"no card format of {format_bits} bits (known: {sorted(CARD_FORMATS)})",
        )
    if not 0 <= facility <= layout.max_facility:
        raise WiegandError(
            "out_of_range",
            f"facility {facility} outside 0..{layout.max_facility} for {format_bits}-bit",
        )
    if not 0 <= card <= layout.max_card:
        raise WiegandError(
            "out_of_range", f"card {card} outside 0..{layout.max_card} for {format_bits}-bit"
        )
    data = format(facility, f"0{layout.facility_bits}b") + format(card, f"0{layout.card_bits}b")
    frame = "0" + data + "0"
    even = _ones(frame, layout.even_span) % 2
    odd = 1 - _ones(frame, layout.odd_span) % 2
    return str(even) + data + str(odd)


def encode_key(key: str, width: Literal[4, 8] = 4) -> str:
    """Bit string of one keypad key in the 4-bit or 8-bit (complemented nibble) form."""
    value = KEYPAD_KEYS.find(key)
    if len(key) != 1 or value < 0:
        raise WiegandError("unknown_key", f"keypad key must be one of {KEYPAD_KEYS!r}, got {key!r}")
    nibble = format(value, "04b")
    if width == 4:
        return nibble
    return format(value ^ 0xF, "04b") + nibble


def _decode_card(bits: str, layout: CardFormat) -> CardRead:
    if (_ones(bits, layout.even_span) + int(bits[0])) % 2 != 0:
        raise WiegandError("parity", f"{layout.bits}-bit frame fails its even (leading) parity")
    if (_ones(bits, layout.odd_span) + int(bits[-1])) % 2 != 1:
        raise WiegandError("parity", f"{layout.bits}-bit frame fails its odd (trailing) parity")
    facility_end = 1 + layout.facility_bits
    facility = int(bits[1:facility_end], 2)
    card = int(bits[facility_end : facility_end + layout.card_bits], 2)
    return CardRead(layout.bits, facility, card, bits)


def _decode_key(bits: str) -> KeypadKey:
    value = int(bits[-4:], 2)
    if len(bits) == 8 and int(bits[:4], 2) != value ^ 0xF:
        raise WiegandError(
            "keypad_complement",
            f"8-bit key: high nibble is not the complement of the low nibble ({bits})",
        )
    if value >= len(KEYPAD_KEYS):
        raise WiegandError("keypad_value", f"keypad value {value} is not a key ({bits})")
    return KeypadKey(KEYPAD_KEYS[value], bits)


def decode(bits: str) -> WiegandRead:
    """Classify and check one frame; raises `WiegandError` naming why it is invalid."""
    _check_bits(bits)
    length = len(bits)
    layout = CARD_FORMATS.get(length)
    if layout is not None:
        return _decode_card(bits, layout)
    if length in (4, 8):
        return _decode_key(bits)
    if length < RAW_MIN_BITS:
        raise WiegandError(
            "too_short",
            f"{length} bits is neither a keypad key nor a card "
            f"(raw frames need at least {RAW_MIN_BITS})",
        )
    if length > MAX_BITS:
        raise WiegandError("too_long", f"{length} bits exceeds the {MAX_BITS}-bit maximum")
    return RawFrame(bits)


def describe(read: WiegandRead) -> str:
    """One human-readable line for the installer CLI and logs."""
    if isinstance(read, CardRead):
        return f"card format={read.format_bits} facility={read.facility} card={read.card}"
    if isinstance(read, KeypadKey):
        return f"key {read.key} ({len(read.bits)}-bit)"
    return f"raw {len(read.bits)} bits {read.bits}"
