"""`Application`: the use cases of one running gateway, built by `AccessService` at start.

Adapters get this (or the one use case they need) and never the service: it holds no running
part, only the commands and queries over them, and the few facts they all need (store, config,
door, the recogniser's model and decision rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.application.call_answer import AnswerCallCommand
from gateway.application.config_apply import ConfigChanges
from gateway.application.live_frame import LiveFrameQuery
from gateway.application.remote_open import RemoteOpenCommand
from gateway.application.status import StatusQuery
from gateway.application.telemetry import TelemetryQuery
from gateway.config.model import GatewayConfig
from gateway.store.store import Store
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import DecisionRule


@dataclass(frozen=True)
class Application:
    store: Store
    config: GatewayConfig
    door_id: int
    pipeline: FaceAnalyser
    decision_rule: DecisionRule
    status: StatusQuery
    live_frame: LiveFrameQuery
    telemetry: TelemetryQuery
    remote_open: RemoteOpenCommand
    config_changes: ConfigChanges
    # Rebuild the galleries from the store and swap them into the recogniser (after enrolment,
    # erasure or a sync); returns the resident template count.
    reload_galleries: Callable[[], int]
    now: Callable[[], datetime]
    # Visitor calls: None unless `[access.visitor_call]` and the station are enabled.
    answer_call: AnswerCallCommand | None = None
