"""Serial frame codec shared by the host and the RP2040 firmware (MicroPython-compatible subset:
no typing imports, no dataclasses, only bytes/bytearray arithmetic).

Frame layout, all integers big-endian:

    SYNC(0xA5) LEN(1) SEQ(1) TYPE(1) PAYLOAD(LEN) CRC16(2)

CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) covers LEN, SEQ, TYPE and PAYLOAD. SEQ 0 marks an
unacknowledged frame (heartbeat, ACK, NAK); reliable frames use 1..255. The parser resynchronises
after garbage: on a bad length or CRC it drops one byte and searches for the next SYNC, counting
what it dropped.
"""

SYNC = 0xA5
MAX_PAYLOAD = 64
HEADER_LEN = 4
OVERHEAD = HEADER_LEN + 2
MAX_FRAME = MAX_PAYLOAD + OVERHEAD


def crc16(data, crc=0xFFFF):  # type: (bytes | bytearray, int) -> int
    """CRC-16/CCITT-FALSE of `data`, continuing from `crc`."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode_frame(seq, msg_type, payload=b""):  # type: (int, int, bytes) -> bytes
    """One complete frame; raises ValueError for out-of-range fields or oversized payloads."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    if not 0 <= seq <= 255 or not 0 <= msg_type <= 255:
        raise ValueError("seq and type must fit in one byte")
    body = bytes((len(payload), seq, msg_type)) + bytes(payload)
    crc = crc16(body)
    return bytes((SYNC,)) + body + bytes((crc >> 8, crc & 0xFF))


def next_seq(seq):  # type: (int) -> int
    """The reliable sequence number after `seq` (1..255, skipping 0)."""
    return 1 if seq >= 255 else seq + 1


def _sync_index(buffer):  # type: (bytearray) -> int
    """Index of the first SYNC byte, or len(buffer) (MicroPython's bytearray has no find)."""
    for index in range(len(buffer)):
        if buffer[index] == SYNC:
            return index
    return len(buffer)


class FrameParser:
    """Incremental parser: `feed(bytes)` returns complete (seq, type, payload) tuples.

    Errors are counted in `errors` (keys: crc, oversized, junk) and described in `last_error`.
    """

    def __init__(self):  # type: () -> None
        self._buffer = bytearray()
        self.errors = {"crc": 0, "oversized": 0, "junk": 0}
        self.last_error = ""

    def feed(self, data):  # type: (bytes) -> list[tuple[int, int, bytes]]
        self._buffer.extend(data)
        frames = []  # type: list[tuple[int, int, bytes]]
        buffer = self._buffer
        while buffer:
            if buffer[0] != SYNC:
                dropped = _sync_index(buffer)
                self._error("junk", f"{dropped} bytes outside any frame", dropped)
                buffer = buffer[dropped:]
                continue
            if len(buffer) < 2:
                break
            length = buffer[1]
            if length > MAX_PAYLOAD:
                self._error("oversized", f"declared payload {length} > {MAX_PAYLOAD}", 1)
                buffer = buffer[1:]
                continue
            total = length + OVERHEAD
            if len(buffer) < total:
                break
            body = bytes(buffer[1 : total - 2])
            received = (buffer[total - 2] << 8) | buffer[total - 1]
            if crc16(body) != received:
                self._error("crc", f"CRC mismatch on a {total}-byte frame", 1)
                buffer = buffer[1:]
                continue
            frames.append((body[1], body[2], body[3:]))
            buffer = buffer[total:]
        self._buffer = bytearray(buffer)
        return frames

    def reset(self):  # type: () -> None
        """Forget partial input (after the port was reopened)."""
        self._buffer = bytearray()

    def _error(self, kind, detail, count):  # type: (str, str, int) -> None
        self.errors[kind] += count if kind == "junk" else 1
        self.last_error = kind + ": " + detail


class Deduplicator:
    """Receiver side of stop-and-wait: a reliable frame whose SEQ equals the last one accepted
    is a retransmission; it must be acknowledged again but not executed again."""

    def __init__(self):  # type: () -> None
        self.last_seq = -1
        self.last_reply = b""
        self.duplicates = 0

    def is_duplicate(self, seq):  # type: (int) -> bool
        if seq != 0 and seq == self.last_seq:
            self.duplicates += 1
            return True
        return False

    def accept(self, seq, reply):  # type: (int, bytes) -> None
        """Remember the frame just executed and the exact reply sent for it."""
        self.last_seq = seq
        self.last_reply = reply

    def reset(self):  # type: () -> None
        self.last_seq = -1
        self.last_reply = b""
