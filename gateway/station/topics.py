"""The topic tree: every topic the gateway publishes or subscribes, built from one place.

<prefix>/<site>/<gateway>/ followed by: availability, status, telemetry, events/access,
events/visitor, events/visitor_call, events/alert, events/compacted, cmd/<name>,
cmd_result/<name>. See docs/mqtt.md.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMAND_NAMES = (
    "open",
    "issue_code",
    "revoke_code",
    "sync_people",
    "sync_watchlist",
    "get_config",
    "set_config",
    "snapshot",
    "replay",
    "answer_call",
)
EVENT_KINDS = ("access", "visitor", "visitor_call", "alert", "compacted")


@dataclass(frozen=True)
class Topics:
    """Topics of one gateway under a prefix."""

    prefix: str
    site: str
    gateway: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.site}/{self.gateway}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def telemetry(self) -> str:
        return f"{self.base}/telemetry"

    def event(self, kind: str) -> str:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        return f"{self.base}/events/{kind}"

    @property
    def command_filter(self) -> str:
        return f"{self.base}/cmd/+"

    def command(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def result(self, name: str) -> str:
        return f"{self.base}/cmd_result/{name}"

    def command_name(self, topic: str) -> str | None:
        """The command name of a topic under cmd/, or None when it is not one of ours."""
        head = f"{self.base}/cmd/"
        if not topic.startswith(head):
            return None
        name = topic[len(head) :]
        return name if name in COMMAND_NAMES else None


def station_filters(prefix: str) -> list[str]:
    """What a station subscribes to for every gateway under the prefix."""
    return [
        f"{prefix}/+/+/availability",
        f"{prefix}/+/+/status",
        f"{prefix}/+/+/telemetry",
        f"{prefix}/+/+/events/+",
        f"{prefix}/+/+/cmd_result/+",
    ]
