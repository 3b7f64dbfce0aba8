"""menwei door firmware for an RP2040 (Raspberry Pi Pico) running MicroPython.

The MCU owns everything time- or safety-critical: the relay with a hard maximum release time,
local exit (works without the host), the fire input forcing the relay off, debounced inputs,
Wiegand in (IRQ edges, frame end by gap) and out (SIA timing), and a host watchdog: when the
host goes quiet for `watchdog_ms` the relay drops to the lock's unpowered state.

The protocol code is shared with the host: copy firmware_bridge/protocol/frames.py and
messages.py next to this file (see README.md). Under CPython the tests inject fakes of `machine`
and `time` through `Firmware(machine, time, uart)`.
"""

import os

try:
    import frames
    import messages
except ImportError:  # CPython tests: the shared modules live in the host package
    from firmware_bridge.protocol import frames, messages

# Pin map (GPn numbers; see README.md for the wiring table)
PIN_UART_TX = 0
PIN_UART_RX = 1
PIN_WG_IN_D0 = 2
PIN_WG_IN_D1 = 3
PIN_WG_OUT_D0 = 6
PIN_WG_OUT_D1 = 7
PIN_RELAY = 15
PIN_DOOR = 16
PIN_EXIT = 17
PIN_TAMPER = 18
PIN_FIRE = 19
UART_ID = 0
BAUDRATE = 115200

# Used until the host's HELLO says otherwise: set LOCK_TYPE to match the installed lock so local
# exit is right even before the host has ever connected.
LOCK_TYPE = messages.LOCK_FAIL_SECURE
DEFAULTS = (LOCK_TYPE, 3000, 10000, 2000, 100, 1000, 25, 20)
HEARTBEAT_MS = 250
EVENT_ACK_TIMEOUT_MS = 150
EVENT_RETRIES = 3
EVENT_QUEUE_MAX = 16
HW_WATCHDOG_MS = 8000


class Firmware:
    """All firmware state; `poll()` runs one iteration of the main loop."""

    def __init__(self, machine, time, uart=None, session=0, lock=LOCK_TYPE):
        self.machine = machine
        self.time = time
        pin = machine.Pin
        # Safe state first: the relay pin is created driving 0 and written 0 again.
        self.relay = pin(PIN_RELAY, pin.OUT, value=0)
        self.relay.value(0)
        self.relay_on = False
        self.relay_on_at = 0
        self.inputs = [pin(n, pin.IN, pin.PULL_UP)
                       for n in (PIN_DOOR, PIN_EXIT, PIN_TAMPER, PIN_FIRE)]
        self.wg_out = (pin(PIN_WG_OUT_D0, pin.OUT, value=0), pin(PIN_WG_OUT_D1, pin.OUT, value=0))
        self.wg_in = (pin(PIN_WG_IN_D0, pin.IN, pin.PULL_UP),
                      pin(PIN_WG_IN_D1, pin.IN, pin.PULL_UP))
        self.wg_bits = []
        self.wg_flags = messages.WG_CLEAN
        self.wg_last_us = 0
        for line in self.wg_in:
            line.irq(trigger=pin.IRQ_FALLING, handler=self._wiegand_edge)
        self.uart = uart or machine.UART(UART_ID, baudrate=BAUDRATE, timeout=0,
                                         tx=pin(PIN_UART_TX), rx=pin(PIN_UART_RX))
        self.wdt = machine.WDT(timeout=HW_WATCHDOG_MS)
        self.session = session or (int.from_bytes(os.urandom(2), "big") | 1)
        self.parser = frames.FrameParser()
        self.dedup = frames.Deduplicator()
        self.rx_errors = 0
        self.counts = {"watchdog": 0, "max_on": 0, "expired": 0, "dropped_events": 0}
        (self.lock, self.unlock_ms, self.max_unlock_ms, self.watchdog_ms, self.pulse_us,
         self.interval_us, self.gap_ms, self.debounce_ms) = DEFAULTS
        self.lock = lock
        self.heartbeat_ms = HEARTBEAT_MS
        self.configured = False  # True while a host that said HELLO keeps talking
        now = time.ticks_ms()
        self.last_host = now
        self.last_heartbeat = time.ticks_add(now, -HEARTBEAT_MS)
        self.released = False
        self.release_until = now
        self.levels = [line.value() == 0 for line in self.inputs]  # contacts are active-low
        self.candidate = list(self.levels)
        self.since = [now] * 4
        self.fire = self.levels[messages.IN_FIRE]
        self.events = []  # [seq, frame, sent_at, attempts]
        self.tx_seq = 0

    # --- relay ----------------------------------------------------------------------------
    def _set_relay(self, on, now):
        if on and not self.relay_on:
            self.relay_on_at = now
        self.relay_on = on
        self.relay.value(1 if on else 0)

    def _relay_for(self, released):
        return released == (self.lock == messages.LOCK_FAIL_SECURE)

    def release(self, duration_ms, now):
        if self.fire:
            return False
        self.released = True
        self.release_until = self.time.ticks_add(now, min(duration_ms, self.max_unlock_ms))
        self._set_relay(self._relay_for(True), now)
        return True

    def secure(self, now):
        """Locked state; with no host or during fire the relay stays de-energised."""
        self.released = False
        locked_level = self._relay_for(False) and self.configured and not self.fire
        self._set_relay(locked_level, now)

    def safe(self, now):
        self.released = False
        self._set_relay(False, now)

    def _relay_timers(self, now):
        diff = self.time.ticks_diff
        if self.released and diff(now, self.release_until) >= 0:
            self.secure(now)
        strike = self.lock == messages.LOCK_FAIL_SECURE
        if strike and self.relay_on and diff(now, self.relay_on_at) > self.max_unlock_ms:
            self.counts["max_on"] += 1
            self.safe(now)

    # --- inputs -----------------------------------------------------------------------------
    def _scan_inputs(self, now):
        for index, line in enumerate(self.inputs):
            raw = line.value() == 0
            if raw != self.candidate[index]:
                self.candidate[index] = raw
                self.since[index] = now
            elif raw != self.levels[index] and (
                    self.time.ticks_diff(now, self.since[index]) >= self.debounce_ms):
                self.levels[index] = raw
                self._input_changed(index, raw, now)

    def _input_changed(self, index, active, now):
        if index == messages.IN_EXIT and active:
            self.release(self.unlock_ms, now)  # local exit: no host needed
        elif index == messages.IN_FIRE:
            self.fire = active
            if active:
                self.safe(now)
            else:
                self.secure(now)
        self._queue_event(messages.INPUT, messages.pack_input(index, 1 if active else 0, now))

    # --- Wiegand ----------------------------------------------------------------------------
    def _wiegand_edge(self, line):
        bit = 1 if line is self.wg_in[1] else 0
        if self.wg_in[1 - bit].value() == 0:
            self.wg_flags = messages.WG_OVERLAP
        if len(self.wg_bits) >= messages.MAX_WIEGAND_BITS:
            self.wg_flags = messages.WG_OVERFLOW
        else:
            self.wg_bits.append(bit)
        self.wg_last_us = self.time.ticks_us()

    def _wiegand_flush(self, now):
        if not self.wg_bits and self.wg_flags == messages.WG_CLEAN:
            return
        if self.time.ticks_diff(self.time.ticks_us(), self.wg_last_us) < self.gap_ms * 1000:
            return
        state = self.machine.disable_irq()
        bits, flags = self.wg_bits, self.wg_flags
        self.wg_bits, self.wg_flags = [], messages.WG_CLEAN
        self.machine.enable_irq(state)
        if flags == messages.WG_CLEAN and (self.wg_in[0].value() == 0 or
                                           self.wg_in[1].value() == 0):
            flags = messages.WG_STUCK
        text = "".join("1" if bit else "0" for bit in bits)
        self._queue_event(messages.WIEGAND_IN, messages.pack_wiegand_in(text, flags, now))

    def wiegand_out(self, bits):
        """Bit-bang one frame with SIA timing (pulse_us low, interval_us start to start)."""
        rest = self.interval_us - self.pulse_us
        for char in bits:
            line = self.wg_out[1] if char == "1" else self.wg_out[0]
            line.value(1)  # drives the open-collector transistor: the data line goes low
            self.time.sleep_us(self.pulse_us)
            line.value(0)
            self.time.sleep_us(rest)

    # --- host link --------------------------------------------------------------------------
    def _write(self, frame):
        self.uart.write(frame)

    def _queue_event(self, msg_type, payload):
        if len(self.events) >= EVENT_QUEUE_MAX:
            self.events.pop(0)
            self.counts["dropped_events"] += 1
        self.tx_seq = frames.next_seq(self.tx_seq)
        self.events.append([self.tx_seq, frames.encode_frame(self.tx_seq, msg_type, payload),
                            0, 0])

    def _pump_events(self, now):
        if not self.events or not self.configured:
            return
        head = self.events[0]
        if head[3] and self.time.ticks_diff(now, head[2]) < EVENT_ACK_TIMEOUT_MS:
            return
        if head[3] > EVENT_RETRIES:
            self.events.pop(0)
            self.counts["dropped_events"] += 1
            return
        self._write(head[1])
        head[2] = now
        head[3] += 1

    def _read_host(self, now):
        data = self.uart.read()
        if not data:
            return
        for seq, msg_type, payload in self.parser.feed(data):
            self._handle(seq, msg_type, payload, now)

    def _reply(self, seq, reason=0, extra=b""):
        if reason:
            return frames.encode_frame(0, messages.NAK, messages.pack_nak(seq, reason))
        return frames.encode_frame(0, messages.ACK, messages.pack_ack(seq, extra))

    def _handle(self, seq, msg_type, payload, now):
        if msg_type == messages.HEARTBEAT:
            if self.configured:
                self.last_host = now
            return
        if msg_type in (messages.ACK, messages.NAK):
            if payload and self.events and self.events[0][0] == payload[0]:
                self.events.pop(0)
            return
        if msg_type not in messages.HOST_COMMANDS or seq == 0:
            self.rx_errors += 1
            if seq:
                self._write(self._reply(seq, messages.NAK_UNKNOWN_TYPE))
            return
        if msg_type != messages.HELLO and self.dedup.is_duplicate(seq):
            self._write(self.dedup.last_reply)
            return
        try:
            reply = self._execute(seq, msg_type, payload, now)
        except ValueError:
            self.rx_errors += 1
            reply = self._reply(seq, messages.NAK_BAD_PAYLOAD)
        self.dedup.accept(seq, reply)
        self._write(reply)

    def _execute(self, seq, msg_type, payload, now):
        if msg_type == messages.HELLO:
            values = messages.unpack_hello(payload)
            if values[0] != messages.PROTOCOL_VERSION:
                return self._reply(seq, messages.NAK_VERSION)
            (self.lock, self.unlock_ms, self.max_unlock_ms, self.watchdog_ms, self.pulse_us,
             self.interval_us, self.gap_ms, self.debounce_ms) = values[1:]
            self.heartbeat_ms = max(20, min(HEARTBEAT_MS, self.watchdog_ms // 4))
            self.configured = True
            self.last_host = now
            self.dedup.reset()
            return self._reply(seq, 0, messages.pack_hello_reply(self.session, now))
        if not self.configured:
            return self._reply(seq, messages.NAK_NOT_READY)
        self.last_host = now
        if msg_type == messages.RELEASE:
            session, deadline, duration = messages.unpack_release(payload)
            if session != self.session:
                return self._reply(seq, messages.NAK_WRONG_SESSION)
            left = self.time.ticks_diff(deadline, now)
            if left < 0 or left > messages.MAX_COMMAND_TTL_MS:
                self.counts["expired"] += 1
                return self._reply(seq, messages.NAK_EXPIRED)
            if not self.release(duration, now):
                return self._reply(seq, messages.NAK_FIRE)
        elif msg_type == messages.SECURE:
            self.secure(now)
        elif msg_type == messages.SAFE:
            self.safe(now)
        else:
            bits, rest = messages.unpack_bits(payload)
            if rest:
                raise ValueError("trailing bytes after the Wiegand bits")
            self.wiegand_out(bits)
        return self._reply(seq)

    def _host_watchdog(self, now):
        if self.configured and self.time.ticks_diff(now, self.last_host) > self.watchdog_ms:
            self.counts["watchdog"] += 1
            self.configured = False  # a new HELLO is needed; local exit keeps working
            self.safe(now)

    def _heartbeat(self, now):
        if self.time.ticks_diff(now, self.last_heartbeat) < self.heartbeat_ms:
            return
        self.last_heartbeat = now
        state = sum(1 << i for i, level in enumerate(self.levels) if level)
        state |= messages.STATE_RELAY if self.relay_on else 0
        state |= 0 if self.configured else messages.STATE_HOST_LOST
        errors = self.rx_errors + sum(self.parser.errors.values())
        self._write(frames.encode_frame(0, messages.HEARTBEAT,
                                        messages.pack_mcu_heartbeat(now, self.session, state,
                                                                    errors)))

    def poll(self):
        now = self.time.ticks_ms()
        self._read_host(now)
        self._scan_inputs(now)
        self._wiegand_flush(now)
        self._relay_timers(now)
        self._host_watchdog(now)
        self._pump_events(now)
        self._heartbeat(now)
        self.wdt.feed()


def main():
    import machine
    import time

    firmware = Firmware(machine, time)
    while True:
        firmware.poll()
        time.sleep_ms(1)


if __name__ == "__main__":
    main()
