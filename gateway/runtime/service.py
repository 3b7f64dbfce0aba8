"""AccessService: the one place the running gateway is wired, with an explicit start/stop.

start(): open the store (migrating it), find the door, load and verify models, load the resident
and watch-list galleries, start the door in its safe state, then the door thread, the camera and
the vision thread. stop() undoes it in reverse; the door session guarantees the relay is
de-energised at stop and on any exception. Hardware and camera can be injected (tests, demo).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from firmware_bridge.backends import create_door_io
from firmware_bridge.door import DoorController
from firmware_bridge.io import DoorIO
from firmware_bridge.safety import door_session
from gateway.access.alerts import AlertRecorder
from gateway.access.card_guard import UnknownCardGuard
from gateway.access.confusable import check_residents
from gateway.access.keypad import KeypadEntry
from gateway.access.loiter import LoiterDetector
from gateway.access.policy import AccessDecision, AccessPolicy
from gateway.access.second_factor import SecondFactorWaits
from gateway.access.tailgate import TailgateDetector
from gateway.application.app import Application
from gateway.application.call_answer import AnswerCallCommand
from gateway.application.config_apply import ConfigChanges
from gateway.application.live_frame import LiveFrameQuery
from gateway.application.remote_open import RemoteOpenCommand
from gateway.application.status import GalleryCounts, HealthCheck, StatusQuery, broker_check
from gateway.application.telemetry import TelemetryQuery
from gateway.camera.health import HealthEvent
from gateway.camera.runtime import Camera
from gateway.camera.source import FrameSource
from gateway.config.model import GatewayConfig
from gateway.gallery import Gallery
from gateway.ops.logging_setup import RUNTIME_APPLIERS
from gateway.ops.paths import data_folder
from gateway.ops.retention import DiskGuard
from gateway.ops.sdnotify import Liveness
from gateway.ops.service_hooks import OpsRuntime, service_liveness, start_ops
from gateway.ops.telemetry import Provider, standard_sources
from gateway.runtime.bootstrap import ensure_door
from gateway.runtime.call_desk import CallDesk, DeskParts
from gateway.runtime.call_wiring import build_call_desk, latest_snapshot
from gateway.runtime.door_loop import DoorLoop
from gateway.runtime.recognition import (
    RecognitionLoader,
    load_onnx_recognition,
)
from gateway.runtime.station_wiring import start_station_link
from gateway.runtime.vision_loop import VisionLoop
from gateway.station.link import StationLink
from gateway.store.events import count_pending
from gateway.store.gallery_load import fill_gallery, load_gallery_rows
from gateway.store.store import Store, open_store
from gateway.store.watchlist import load_watchlist
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import DecisionRule
from gateway.vision.recogniser import Recogniser, rule_from_config

LOG = logging.getLogger(__name__)
DecisionListener = Callable[[AccessDecision], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccessService:
    """The gateway's main job, beside one door."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        camera_source: FrameSource | None = None,
        door_io: DoorIO | None = None,
        on_decision: DecisionListener | None = None,
        now: Callable[[], datetime] = utc_now,
        load_recognition: RecognitionLoader = load_onnx_recognition,
    ) -> None:
        self.config = config
        self._load_recognition = load_recognition
        self._camera_source = camera_source
        self._door_io = door_io
        self._on_decision = on_decision
        self.now = now
        self._stack = ExitStack()
        self.started_at: float | None = None
        self.ready_after_s: float | None = None
        self.store: Store | None = None
        self.door_id = 0
        self.pipeline: FaceAnalyser | None = None
        self.door_loop: DoorLoop | None = None
        self.vision_loop: VisionLoop | None = None
        self.camera: Camera | None = None
        self.alerts: AlertRecorder | None = None
        self.policy: AccessPolicy | None = None
        self.recogniser: Recogniser | None = None
        self.gallery_counts: GalleryCounts | None = None
        self.ops: OpsRuntime | None = None
        self.station: StationLink | None = None
        self._application: Application | None = None
        self.call_desk: CallDesk | None = None

    def __enter__(self) -> AccessService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        begin = time.monotonic()
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        self.started_at = begin
        self.ready_after_s = time.monotonic() - begin
        LOG.info("menwei ready in %.2f s", self.ready_after_s)
        if self.ops is not None:
            self.ops.ready(f"ready in {self.ready_after_s:.1f} s: {self.gallery_counts}")

    def _start(self) -> None:
        config = self.config
        store = open_store(config.store)
        self._stack.callback(store.close)
        self.store = store
        with store.sessions.writing() as session:
            self.door_id = ensure_door(session, config.site)
        recognition = self._load_recognition(config)
        pipeline = self.pipeline = recognition.analyser
        residents, watchlist = self._load_galleries(store, pipeline)
        rule = rule_from_config(
            config.vision,
            recognition.resident_threshold,
            recognition.small_gallery_threshold,
            recognition.fusion_agreement,
        )
        self.recogniser = Recogniser(
            pipeline, residents, watchlist, rule, recognition.watch_threshold
        )
        self._check_confusable(store, pipeline, rule)
        common: dict[str, Any] = {
            "gateway_id": config.site.gateway_id,
            "door_id": self.door_id,
            "now": self.now,
        }
        waits = SecondFactorWaits(config.access.second_factor.window_s, time.monotonic)
        self.policy = AccessPolicy(store, **common, second_factor=waits)
        disk = DiskGuard.for_store(store, config.ops.retention, data_folder(config))
        self.alerts = AlertRecorder(store, **common, snapshot_allowed=disk.snapshot_allowed)

        io = self._door_io or create_door_io(config.door)
        self._stack.enter_context(door_session(io, config.door))
        controller = DoorController(io, config.door)
        controller.arm()
        keypad = KeypadEntry(config.access.keypad, time.monotonic)
        if config.access.visitor_call.enabled and config.station.enabled:  # who would answer?
            parts = DeskParts(
                take_snapshot=lambda: latest_snapshot(
                    self.camera, config.station.max_snapshot_bytes
                ),
                raise_alert=self.alerts.raise_,
            )
            self.call_desk = build_call_desk(config, store, self.door_id, self.now, parts)
            self.call_desk.start()
            self._stack.callback(self.call_desk.stop)
        self.door_loop = DoorLoop(
            controller,
            self.policy,
            keypad,
            self.alerts,
            time.monotonic_ns,
            self._on_decision,
            UnknownCardGuard(config.access.card_reader, time.monotonic),
            None if self.call_desk is None else self.call_desk.call_key,
        )
        self.door_loop.start()
        self._stack.callback(self.door_loop.stop)

        health_events: queue.SimpleQueue[HealthEvent] = queue.SimpleQueue()
        self.camera = Camera(
            config.camera, on_health_event=health_events.put, source=self._camera_source
        )
        self.vision_loop = VisionLoop(
            self.camera,
            self.recogniser,
            self.policy,
            self.door_loop,
            self.alerts,
            LoiterDetector(config.access.loiter, time.monotonic),
            TailgateDetector(config.access.tailgate, time.monotonic),
            self._on_decision,
            health_events,
        )
        self.camera.start()
        self._stack.callback(self.camera.stop)
        self.vision_loop.start()
        self._stack.callback(self.vision_loop.stop)
        self._application = self._build_application(store, pipeline, rule)
        self.station = start_station_link(self._application, self.call_desk)
        if self.station is not None:
            self._stack.callback(self.station.stop)
        self.ops = start_ops(
            config.ops,
            store=store,
            alive=self.liveness(),
            telemetry=self.telemetry_sources(),
            now=self.now,
        )
        self._stack.callback(self.ops.stop)

    @property
    def application(self) -> Application:
        """The use cases over the running parts: what adapters are given (after start())."""
        if self._application is None:
            raise RuntimeError("start the AccessService before using its application layer")
        return self._application

    def _build_application(
        self, store: Store, pipeline: FaceAnalyser, rule: DecisionRule
    ) -> Application:
        door, camera, vision, policy = self.door_loop, self.camera, self.vision_loop, self.policy
        assert door is not None and camera is not None and vision is not None
        assert policy is not None
        desk = self.call_desk
        answer_call = None
        if desk is not None:
            answer_call = AnswerCallCommand(
                desk, store, door, door_id=self.door_id, now=self.now, on_decision=self._on_decision
            )
        status = StatusQuery(
            door=door,
            camera=camera,
            vision=vision,
            gallery_counts=lambda: self.gallery_counts,
            broker=self._broker_check,
            alive=self.alive,
        )
        return Application(
            store=store,
            config=self.config,
            door_id=self.door_id,
            pipeline=pipeline,
            decision_rule=rule,
            status=status,
            telemetry=TelemetryQuery(self.telemetry_sources(), self.now),
            live_frame=LiveFrameQuery(camera, vision, self.config.station.max_snapshot_bytes),
            remote_open=RemoteOpenCommand(policy, door, self.now, self._on_decision),
            config_changes=ConfigChanges(self.config, RUNTIME_APPLIERS),
            reload_galleries=self.reload_galleries,
            now=self.now,
            answer_call=answer_call,
        )

    def _broker_check(self) -> HealthCheck:
        station = self.station
        if station is None:
            return broker_check(None, None)
        return broker_check(station.connected, station.last_error)

    def _check_confusable(self, store: Store, pipeline: FaceAnalyser, rule: DecisionRule) -> None:
        """Re-run the confusable-faces check when the model or threshold changed since the last
        one (a failure is logged: the door still starts, for cards and PINs)."""
        try:
            check_residents(
                store,
                model_id=pipeline.model_id,
                dimension=pipeline.embedder.dimension,
                rule=rule,
                at=self.now(),
                trigger="start-up",
                only_if_due=True,
            )
        except SQLAlchemyError as error:
            LOG.error("confusable-faces check failed at start-up: %s", error)

    def reload_galleries(self) -> int:
        """Rebuild both galleries from the store (after enrolment, erasure or a station sync) and
        swap them into the running recogniser; the vision thread reads each once per frame.
        Returns the resident template count."""
        if self.store is None or self.pipeline is None or self.recogniser is None:
            return 0
        residents, watchlist = self._load_galleries(self.store, self.pipeline)
        self.recogniser.residents = residents
        self.recogniser.watchlist = watchlist
        return len(residents)

    def _load_galleries(self, store: Store, pipeline: FaceAnalyser) -> tuple[Gallery, Gallery]:
        model_id, dimension = pipeline.model_id, pipeline.embedder.dimension
        residents = Gallery(model_id, dimension)
        watchlist = Gallery(model_id, dimension)
        with store.sessions.reading() as session:
            load = load_gallery_rows(session, store.cipher, model_id, dimension, self.now())
            watch = load_watchlist(session, store.cipher, model_id, dimension)
        fill_gallery(residents, load)
        for external_id, _category, vector in watch.rows:
            watchlist.add_or_refuse(external_id, vector, model_id)
        other_model = load.refused_other_model + sum(watch.refused_by_model.values())
        invalid = residents.refused.total() + watchlist.refused.total()
        unreadable = len(load.unreadable_template_ids) + len(watch.unreadable_external_ids)
        refused = other_model + invalid + load.wrong_dimension + unreadable
        if refused:
            LOG.error(
                "%d templates are NOT loaded (made by another model than %s: %d; invalid vectors: "
                "%d; wrong dimension: %d; failed decryption: %d, ids %s): re-enrol those people",
                refused,
                model_id,
                other_model,
                invalid,
                load.wrong_dimension,
                unreadable,
                load.unreadable_template_ids[:20],
            )
        self.gallery_counts = GalleryCounts(
            len(residents.identities), len(residents), len(watchlist), refused
        )
        LOG.info("gallery: %s", self.gallery_counts)
        return residents, watchlist

    def stop(self) -> None:
        """Stop everything in reverse order; the relay ends de-energised."""
        self._stack.close()

    def liveness(self, clock: Callable[[], float] = time.monotonic) -> Liveness:
        """What the systemd watchdog pings on: threads running and their loops coming round
        (`clock`: the monotonic seconds the heartbeats are judged against)."""
        vision, door = self.vision_loop, self.door_loop
        assert vision is not None and door is not None
        return service_liveness(
            self.config.ops.watchdog,
            threads_running=self.alive,
            vision_heartbeat_s=lambda: vision.heartbeat,
            door_heartbeat_s=lambda: door.heartbeat_ns / 1e9,
            others=[self.station.alive] if self.station is not None else [],
            clock=clock,
        )

    def telemetry_sources(self) -> dict[str, Provider]:
        """Providers for metrics and the station's telemetry snapshot."""
        vision, camera, store = self.vision_loop, self.camera, self.store
        assert vision is not None and camera is not None and store is not None
        gateway_id = self.config.site.gateway_id

        def outbox_depth() -> int:
            with store.sessions.reading() as session:
                return count_pending(session, gateway_id)

        return standard_sources(
            frames=lambda: vision.stats.frames,
            latency_ms=lambda: list(vision.stats.latency_ms),
            dropped_frames=lambda: camera.status().capture.frames_dropped,
            outbox_depth=outbox_depth,
            data_dir=data_folder(self.config),
        )

    def alive(self) -> bool:
        """True while the vision and door threads are running (for the systemd watchdog)."""
        vision_ok = self.vision_loop is not None and self.vision_loop.running
        door_ok = self.door_loop is not None and self.door_loop.running
        return vision_ok and door_ok
