"""Per-gateway sequence tracking: what is stored, what is missing, and which replays are due.

A gateway's `seq` is gapless from 1. `complete_up_to` is the highest seq at or below which every
message is stored; `missing` are the seqs above it that are not. A gap appears when a seq skips
ahead, or when the gateway's status says it delivered more than we have (a broker that crashed
after acknowledging the last messages leaves no later seq to show the gap). A gap older than
`grace_s` is asked for with a `replay` command, again every `retry_s`, at most `attempts` times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from station_console.config import ReplaySection


@dataclass
class GatewaySequence:
    complete_up_to: int = 0
    highest: int = 0
    missing: set[int] = field(default_factory=set)
    gap_since: float | None = None
    last_request: float | None = None
    requests: int = 0

    def _advance(self) -> None:
        self.complete_up_to = min(self.missing) - 1 if self.missing else self.highest

    def observe(self, seq: int, now: float) -> None:
        if seq > self.highest:
            if seq > self.highest + 1:
                self.missing.update(range(self.highest + 1, seq))
            self.highest = seq
        else:
            self.missing.discard(seq)
        self._settle(now)

    def expect_up_to(self, seq: int, now: float) -> None:
        """The gateway says it delivered every seq up to `seq`."""
        if seq > self.highest:
            self.missing.update(range(self.highest + 1, seq + 1))
            self.highest = seq
            self._settle(now)

    def _settle(self, now: float) -> None:
        self._advance()
        if not self.missing:
            self.gap_since, self.last_request, self.requests = None, None, 0
        elif self.gap_since is None:
            self.gap_since = now


@dataclass(frozen=True)
class ReplayRequest:
    site: str
    gateway: str
    since: int
    until: int


class SequenceBook:
    """Every gateway's `GatewaySequence`, keyed by (site, gateway)."""

    def __init__(self, policy: ReplaySection) -> None:
        self.policy = policy
        self.gateways: dict[tuple[str, str], GatewaySequence] = {}
        self.abandoned: dict[tuple[str, str], set[int]] = {}

    def of(self, site: str, gateway: str) -> GatewaySequence:
        return self.gateways.setdefault((site, gateway), GatewaySequence())

    def load(
        self, site: str, gateway: str, complete_up_to: int, highest: int, stored: set[int]
    ) -> None:
        """Rebuild a gateway's state at start-up from the database."""
        entry = GatewaySequence(complete_up_to, highest)
        entry.missing = set(range(complete_up_to + 1, highest + 1)) - stored
        entry._settle(0.0)
        self.gateways[(site, gateway)] = entry

    def missing_count(self) -> int:
        return sum(len(entry.missing) for entry in self.gateways.values())

    def due(self, now: float) -> list[ReplayRequest]:
        """Replays to send now (the caller sends them; each is counted as sent)."""
        requests: list[ReplayRequest] = []
        for (site, gateway), entry in self.gateways.items():
            if not entry.missing or entry.gap_since is None:
                continue
            if now - entry.gap_since < self.policy.grace_s:
                continue
            if entry.last_request is not None and now - entry.last_request < self.policy.retry_s:
                continue
            if entry.requests >= self.policy.attempts:
                self.abandoned[(site, gateway)] = set(entry.missing)
                continue
            since = min(entry.missing)
            until = min(max(entry.missing), since + self.policy.max_per_command - 1)
            entry.last_request, entry.requests = now, entry.requests + 1
            requests.append(ReplayRequest(site, gateway, since, until))
        return requests
