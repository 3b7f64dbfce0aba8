"""What the staff page needs from the running gateway, passed in explicitly (no globals).

`ProvisioningDeps` is built once by whoever mounts the page (`menwei run`, the tests) and handed
to `create_app`. The gateway's live state reaches the page only through the two callables:
`status_provider` (door state, health checks) and `frame_provider` (the latest camera frame and
the faces the vision loop drew on it). The store is used through its staff lane
(`Store.for_staff_page`), so nothing the page does can starve the door's writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.application.config_apply import ConfigChanges
from gateway.application.live_frame import LiveFrame
from gateway.application.status import GatewayStatus, HealthCheck
from gateway.config.model import GatewayConfig
from gateway.config.staff_page import ProvisioningConfig
from gateway.store.store import Store
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import DecisionRule
from gateway.vision.factory import PipelineModels

StatusProvider = Callable[[], GatewayStatus]
FrameProvider = Callable[[], LiveFrame | None]
ConfigSaver = Callable[[GatewayConfig], None]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _no_status() -> GatewayStatus:
    return GatewayStatus("unknown", (HealthCheck("access service", False, "not connected"),))


def _no_frame() -> LiveFrame | None:
    return None


def _nothing() -> None:
    return None


def _refuse_save(_config: GatewayConfig) -> None:
    raise RuntimeError("this gateway was started without a writable configuration file")


@dataclass
class ProvisioningDeps:
    """Everything `create_app` uses; the app reads nothing else from its process."""

    store: Store
    gateway_config: GatewayConfig
    settings: ProvisioningConfig
    pipeline: FaceAnalyser | None = None
    models: PipelineModels | None = None
    similarity_threshold: float = 0.5
    # The door's decision rule (threshold, small-gallery threshold, margin): enrolment's
    # confusable check uses it; None builds it from `models` / `similarity_threshold`.
    decision_rule: DecisionRule | None = None
    door_id: int | None = None
    status_provider: StatusProvider = _no_status
    frame_provider: FrameProvider = _no_frame
    save_config: ConfigSaver = _refuse_save
    clock: Clock = utc_now
    # Called after a change that alters who the door recognises (templates, validity, erasure):
    # the running service reloads its resident gallery.
    people_changed: Callable[[], None] = _nothing
    announce: Callable[[str], None] = field(default=logging.getLogger("menwei.setup").warning)
    # Applies a settings change to the running gateway (live fields at once, the rest reported
    # as needing a restart); None: over `gateway_config`, nothing running to push values into.
    config_changes: ConfigChanges | None = None

    def __post_init__(self) -> None:
        # Whoever builds the deps, the page reads and writes through the store's staff lane:
        # its own small pool, and a write turn only when no door decision is waiting.
        self.store = self.store.for_staff_page()
        if self.config_changes is None:
            self.config_changes = ConfigChanges(self.gateway_config)

    @property
    def changes(self) -> ConfigChanges:
        """The config-change command (set in __post_init__)."""
        assert self.config_changes is not None
        return self.config_changes
