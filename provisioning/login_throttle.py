"""Login throttling a remote attacker cannot turn against a real admin, in bounded memory.

Failures are counted in memory, never in the store (a flood of bad logins costs no database
write), per source and per (source, account name); a source is an IPv4 address or an IPv6 /64
(one LAN host can use a whole /64):

- `per_name` failures for one name from one source lock that name *for that source* for
  `lockout`; the account still signs in from any other source. Five bad guesses from one laptop
  no longer lock the admin out of the building's staff page.
- `per_source` failures from one source, whatever the names, lock that source out of every login
  for `lockout`: name spraying stops there, and so do the entries one source can create.
- Attempts still running count against both budgets, so a burst of parallel requests cannot
  hash more passwords than the budget allows.

A counter with no failure for `lockout` starts again from zero. The tables are LRU-bounded
(`max_entries` each): when full, the least recently touched entry is dropped. Existing and
invented account names are treated alike, so the throttle reveals nothing about which exist.

`HashBudget` bounds what the admitted attempts cost together, from any number of sources: one
Argon2 hash at a time (64 MiB, all cores for a moment) and at most a share of the CPU time, so
the vision loop keeps its share during a flood from a whole subnet. A source that signed in
successfully (remembered `TRUSTED_FOR`) may go beyond the share, never beyond one at a time:
an admin who has used this page before gets in during a flood from elsewhere.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_ENTRIES = 4096
TRUSTED_FOR = timedelta(days=30)


def source_key(address: str | None) -> str:
    """The unit a source is throttled by: an IPv4 address, or the /64 of an IPv6 address."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class _Counter:
    failures: int = 0
    running: int = 0
    last_failure: datetime | None = None
    locked_until: datetime | None = None

    def locked(self, at: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > at

    def stale(self, at: datetime, lockout: timedelta) -> bool:
        """Nothing running, not locked, and no failure within the lockout period."""
        return (
            self.running == 0
            and not self.locked(at)
            and (self.last_failure is None or at - self.last_failure >= lockout)
        )


class _Table:
    """An LRU-bounded map of counters; a stale counter is as good as none."""

    def __init__(self, max_entries: int, lockout: timedelta) -> None:
        self.max_entries = max_entries
        self.lockout = lockout
        self._rows: OrderedDict[object, _Counter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def peek(self, key: object, at: datetime) -> _Counter | None:
        counter = self._rows.get(key)
        if counter is not None and counter.stale(at, self.lockout):
            del self._rows[key]
            return None
        return counter

    def touch(self, key: object, at: datetime) -> _Counter:
        counter = self.peek(key, at) or _Counter()
        self._rows[key] = counter
        self._rows.move_to_end(key)
        while len(self._rows) > self.max_entries:
            self._rows.popitem(last=False)
        return counter

    def get(self, key: object) -> _Counter | None:
        return self._rows.get(key)

    def drop(self, key: object) -> None:
        self._rows.pop(key, None)


class LoginThrottle:
    """Admit or refuse a login attempt before its password is hashed; record how it ended."""

    def __init__(
        self,
        *,
        per_name: int,
        per_source: int,
        lockout: timedelta,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.per_name = per_name
        self.per_source = per_source
        self.lockout = lockout
        self._lock = threading.Lock()
        self._pairs = _Table(max_entries, lockout)
        self._sources = _Table(max_entries, lockout)

    def __len__(self) -> int:
        """Counters held (both tables): what an attacker could make grow."""
        with self._lock:
            return len(self._pairs) + len(self._sources)

    def admit(self, source: str, username: str, at: datetime) -> bool:
        """False when this source is locked for this name or altogether (or its budget is
        taken by attempts still running); True reserves one attempt, to be `settle`d."""
        with self._lock:
            pair = self._pairs.peek((source, username), at)
            origin = self._sources.peek(source, at)
            for counter, budget in ((pair, self.per_name), (origin, self.per_source)):
                if counter is not None and (
                    counter.locked(at) or counter.failures + counter.running >= budget
                ):
                    return False
            self._pairs.touch((source, username), at).running += 1
            self._sources.touch(source, at).running += 1
            return True

    def cancel(self, source: str, username: str) -> None:
        """An admitted attempt that never checked a password (busy, store error): forget it."""
        with self._lock:
            for table, key in ((self._pairs, (source, username)), (self._sources, source)):
                counter = table.get(key)
                if counter is not None:
                    counter.running = max(0, counter.running - 1)

    def settle(self, source: str, username: str, at: datetime, *, ok: bool) -> bool:
        """Record how an admitted attempt ended; True when this failure locked something."""
        with self._lock:
            pair = self._pairs.touch((source, username), at)
            origin = self._sources.touch(source, at)
            pair.running = max(0, pair.running - 1)
            origin.running = max(0, origin.running - 1)
            if ok:
                self._pairs.drop((source, username))
                return False
            locked = False
            for counter, budget in ((pair, self.per_name), (origin, self.per_source)):
                counter.failures += 1
                counter.last_failure = at
                if counter.failures >= budget and not counter.locked(at):
                    counter.locked_until = at + self.lockout
                    counter.failures = 0
                    locked = True
            return locked


class HashBudget:
    """One password hash at a time, and together at most `share` of the wall-clock time.

    The budget is kept in seconds of hashing: it refills at `share` seconds per second up to
    `burst_s`, an attempt is admitted while some is left (its cost, estimated from the last
    hash, is reserved), and the hash's measured time is charged. Measuring instead of counting
    keeps the share whatever the Argon2 parameters and however loaded the machine is.
    """

    def __init__(
        self,
        share: float,
        burst_s: float,
        *,
        max_trusted: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.share = share
        self.burst_s = burst_s
        self.refused = 0
        self._slot = threading.Lock()  # held while hashing
        self._clock = clock
        self._lock = threading.Lock()
        self._credit_s = burst_s
        self._filled_at = clock()
        self._estimate_s = 0.5  # cost of one hash, from the last one measured
        self._trusted: OrderedDict[str, datetime] = OrderedDict()
        self._max_trusted = max_trusted

    def take(self, source: str, at: datetime) -> bool:
        """Reserve one hash; False (and counted) when the budget is spent."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._filled_at
            self._credit_s = min(self.burst_s, self._credit_s + elapsed * self.share)
            self._filled_at = now
            trusted_until = self._trusted.get(source)
            if self._credit_s <= 0 and not (trusted_until is not None and trusted_until > at):
                self.refused += 1
                return False
            self._credit_s -= self._estimate_s
            return True

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """Run one reserved hash: alone, with its measured time charged to the budget."""
        with self._slot:
            begin = self._clock()
            try:
                yield
            finally:
                spent = self._clock() - begin
                with self._lock:
                    self._credit_s += self._estimate_s - spent
                    self._estimate_s = spent

    def trust(self, source: str, at: datetime) -> None:
        """A successful sign-in from `source`: it may hash beyond the share for `TRUSTED_FOR`."""
        with self._lock:
            self._trusted[source] = at + TRUSTED_FOR
            self._trusted.move_to_end(source)
            while len(self._trusted) > self._max_trusted:
                self._trusted.popitem(last=False)
