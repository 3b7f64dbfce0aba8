"""Message types and payload layouts of the host <-> MCU protocol (shared with the firmware;
MicroPython-compatible: only `struct` and plain functions).

Host -> MCU (reliable, ACKed):  HELLO, RELEASE, SECURE, SAFE, WIEGAND_OUT
MCU -> host (reliable, ACKed):  INPUT, WIEGAND_IN
Both ways (seq 0, never ACKed): HEARTBEAT, ACK, NAK

A RELEASE carries the MCU session id (random per boot) and a deadline on the MCU's own tick clock;
the MCU refuses it when the session differs (it rebooted) or the deadline has passed (late frame).
"""

import struct

PROTOCOL_VERSION = 1
TICKS_PERIOD = 1 << 30  # MicroPython ticks_ms wraps here; deadlines are taken modulo it
MAX_COMMAND_TTL_MS = 2000

HELLO = 0x01
ACK = 0x02
NAK = 0x03
HEARTBEAT = 0x04
RELEASE = 0x10
SECURE = 0x11
SAFE = 0x12
WIEGAND_OUT = 0x13
INPUT = 0x20
WIEGAND_IN = 0x21

HOST_COMMANDS = (HELLO, RELEASE, SECURE, SAFE, WIEGAND_OUT)
MCU_EVENTS = (INPUT, WIEGAND_IN)
NAMES = {
    HELLO: "HELLO",
    ACK: "ACK",
    NAK: "NAK",
    HEARTBEAT: "HEARTBEAT",
    RELEASE: "RELEASE",
    SECURE: "SECURE",
    SAFE: "SAFE",
    WIEGAND_OUT: "WIEGAND_OUT",
    INPUT: "INPUT",
    WIEGAND_IN: "WIEGAND_IN",
}

# NAK reasons
NAK_BAD_PAYLOAD = 1
NAK_UNKNOWN_TYPE = 2
NAK_EXPIRED = 3
NAK_WRONG_SESSION = 4
NAK_VERSION = 5
NAK_NOT_READY = 6
NAK_FIRE = 7
NAK_REASONS = {
    NAK_BAD_PAYLOAD: "bad_payload",
    NAK_UNKNOWN_TYPE: "unknown_type",
    NAK_EXPIRED: "expired",
    NAK_WRONG_SESSION: "wrong_session",
    NAK_VERSION: "version",
    NAK_NOT_READY: "not_ready",
    NAK_FIRE: "fire_alarm",
}

# INPUT ids, and the heartbeat state bits that mirror them
IN_DOOR = 0
IN_EXIT = 1
IN_TAMPER = 2
IN_FIRE = 3
STATE_RELAY = 0x10
STATE_HOST_LOST = 0x20

# WIEGAND_IN flags: why the MCU spoiled a frame (0 = clean)
WG_CLEAN = 0
WG_OVERLAP = 1
WG_STUCK = 2
WG_OVERFLOW = 3
WG_FLAGS = {WG_CLEAN: "clean", WG_OVERLAP: "overlap", WG_STUCK: "stuck", WG_OVERFLOW: "overflow"}
MAX_WIEGAND_BITS = 128

LOCK_FAIL_SECURE = 0
LOCK_FAIL_SAFE = 1

_HELLO = ">BBHHHHHBB"
_HELLO_REPLY = ">BBHI"
_RELEASE = ">HIH"
_HEARTBEAT_MCU = ">IHBH"
_INPUT = ">BBI"


def pack_hello(
    lock, unlock_ms, max_unlock_ms, watchdog_ms, pulse_us, interval_us, gap_ms, debounce_ms
):  # type: (int, int, int, int, int, int, int, int) -> bytes
    return struct.pack(
        _HELLO,
        PROTOCOL_VERSION,
        lock,
        unlock_ms,
        max_unlock_ms,
        watchdog_ms,
        pulse_us,
        interval_us,
        gap_ms,
        debounce_ms,
    )


def unpack_hello(payload):  # type: (bytes) -> tuple[int, ...]
    """(version, lock, unlock_ms, max_unlock_ms, watchdog_ms, pulse_us, interval_us, gap_ms,
    debounce_ms); raises ValueError on a wrong size."""
    _check(payload, _HELLO)
    return struct.unpack(_HELLO, payload)


def pack_ack(seq, extra=b""):  # type: (int, bytes) -> bytes
    return bytes((seq,)) + extra


def pack_nak(seq, reason):  # type: (int, int) -> bytes
    return bytes((seq, reason))


def pack_hello_reply(session, ticks_ms):  # type: (int, int) -> bytes
    """Extra bytes of the ACK to HELLO: (version, 0, session, ticks)."""
    return struct.pack(_HELLO_REPLY, PROTOCOL_VERSION, 0, session, ticks_ms)


def unpack_hello_reply(extra):  # type: (bytes) -> tuple[int, ...]
    _check(extra, _HELLO_REPLY)
    return struct.unpack(_HELLO_REPLY, extra)


def pack_release(session, deadline_ticks, duration_ms):  # type: (int, int, int) -> bytes
    return struct.pack(_RELEASE, session, deadline_ticks, duration_ms)


def unpack_release(payload):  # type: (bytes) -> tuple[int, ...]
    _check(payload, _RELEASE)
    return struct.unpack(_RELEASE, payload)


def pack_mcu_heartbeat(ticks_ms, session, state, rx_errors):  # type: (int, int, int, int) -> bytes
    return struct.pack(_HEARTBEAT_MCU, ticks_ms, session, state, min(rx_errors, 0xFFFF))


def unpack_mcu_heartbeat(payload):  # type: (bytes) -> tuple[int, ...]
    """(ticks_ms, session, state bits, rx_errors)."""
    _check(payload, _HEARTBEAT_MCU)
    return struct.unpack(_HEARTBEAT_MCU, payload)


def pack_input(input_id, active, ticks_ms):  # type: (int, int, int) -> bytes
    return struct.pack(_INPUT, input_id, active, ticks_ms)


def unpack_input(payload):  # type: (bytes) -> tuple[int, ...]
    _check(payload, _INPUT)
    values = struct.unpack(_INPUT, payload)
    if values[0] > IN_FIRE or values[1] > 1:
        raise ValueError(f"unknown input {values[0]} or level {values[1]}")
    return values


def pack_bits(bits):  # type: (str) -> bytes
    """Bit string -> count byte + bytes, MSB first."""
    if len(bits) > MAX_WIEGAND_BITS:
        raise ValueError(f"{len(bits)} bits exceed {MAX_WIEGAND_BITS}")
    out = bytearray((len(bits),))
    for start in range(0, len(bits), 8):
        chunk = bits[start : start + 8]
        value = 0
        for char in chunk:
            value = (value << 1) | (1 if char == "1" else 0)
        out.append(value << (8 - len(chunk)))
    return bytes(out)


def unpack_bits(payload):  # type: (bytes) -> tuple[str, bytes]
    """Inverse of pack_bits; returns (bits, remaining payload)."""
    if not payload:
        raise ValueError("empty bit field")
    count = payload[0]
    size = (count + 7) // 8
    if count > MAX_WIEGAND_BITS or len(payload) < 1 + size:
        raise ValueError(f"bit field of {count} bits does not fit the payload")
    bits = ""
    for index in range(count):
        byte = payload[1 + index // 8]
        bits += "1" if byte & (0x80 >> (index % 8)) else "0"
    return bits, bytes(payload[1 + size :])


def pack_wiegand_in(bits, flags, ticks_ms):  # type: (str, int, int) -> bytes
    return pack_bits(bits) + struct.pack(">BI", flags, ticks_ms)


def unpack_wiegand_in(payload):  # type: (bytes) -> tuple[str, int, int]
    bits, rest = unpack_bits(payload)
    if len(rest) != 5:
        raise ValueError(f"WIEGAND_IN trailer must be 5 bytes, got {len(rest)}")
    flags, ticks = struct.unpack(">BI", rest)
    if flags not in WG_FLAGS:
        raise ValueError(f"unknown Wiegand flag {flags}")
    return bits, flags, ticks


def ticks_add(ticks, delta):  # type: (int, int) -> int
    return (ticks + delta) % TICKS_PERIOD


def ticks_diff(end, start):  # type: (int, int) -> int
    """Signed end - start on the wrapping tick clock (as MicroPython's time.ticks_diff)."""
    half = TICKS_PERIOD // 2
    return ((end - start + half) % TICKS_PERIOD) - half


def _check(payload, fmt):  # type: (bytes, str) -> None
    if len(payload) != struct.calcsize(fmt):
        raise ValueError(f"payload of {len(payload)} bytes, expected {struct.calcsize(fmt)}")
