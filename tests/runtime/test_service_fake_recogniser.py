"""The running AccessService with a fake face analyser (no model files): the real store, policy,
door thread over the simulated door, camera thread, vision loop and application layer. The face
path, remote opens and the watchdog are checked in a second or two, with what the relay did."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from firmware_bridge.backends.sim import SimDoorIO
from gateway.access.policy import AccessDecision
from gateway.access.requester import Requester
from gateway.application.remote_open import RemoteOpen
from gateway.camera.simulated import SimulatedSource
from gateway.config import GatewayConfig, parse_config
from gateway.config.model import VisionConfig
from gateway.runtime.recognition import LoadedRecognition
from gateway.runtime.service import AccessService
from gateway.runtime.station_wiring import after_people_sync
from gateway.store.base import Method
from gateway.store.schema_credentials import FaceTemplate
from gateway.store.schema_people import Person
from gateway.store.store import open_store
from gateway.vision.detector import Detection
from gateway.vision.image_io import BGRImage
from gateway.vision.liveness import LivenessResult
from gateway.vision.pipeline import FaceAnalysis, StageTimer
from tests.runtime.conftest import add_resident, enrol_templates

MODEL = "fake-4d"
RESIDENT = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
STRANGER = np.array([0.0, 1.0, 0.0, 0.0], np.float32)


class FakeEmbedder:
    dimension = 4


class FakeAnalyser:
    """Sees one live face in every frame, with a fixed embedding."""

    def __init__(self, embedding: np.ndarray) -> None:
        self.embedding = embedding
        self.model_id = MODEL
        self.config = VisionConfig()
        self.embedder = FakeEmbedder()
        self.timer = StageTimer()

    def analyse(
        self, frame: BGRImage, *, max_faces: int | None = None, check_liveness: bool = True
    ) -> list[FaceAnalysis]:
        detection = Detection((8.0, 8.0, 32.0, 32.0), np.zeros((5, 2), np.float32), 0.99)
        live = LivenessResult(0.99, (0.99,))
        return [FaceAnalysis(detection, liveness=live, embedding=self.embedding.copy())]


def _config(tmp_path: Path) -> GatewayConfig:
    key = tmp_path / "template.key"
    key.write_text(secrets.token_hex(32))
    return parse_config(
        {
            "store": {
                "url": f"sqlite:///{tmp_path / 'menwei.db'}",
                "key_file": str(key),
                "backup_dir": str(tmp_path / "backups"),
            },
            "door": {"backend": "sim"},
        },
        environ={},
    )


def _enrol_resident(config: GatewayConfig) -> int:
    return enrol_templates(config, "R-1", [(RESIDENT, MODEL)], card=(12, 3456))


class Gateway:
    def __init__(self, config: GatewayConfig, face: np.ndarray) -> None:
        self.decisions: list[AccessDecision] = []
        self.io = SimDoorIO(config.door)
        self.service = AccessService(
            config,
            camera_source=SimulatedSource(interval_s=0.02),
            door_io=self.io,
            on_decision=self.decisions.append,
            load_recognition=lambda _config: LoadedRecognition(FakeAnalyser(face), 0.9, 0.95),
        )

    def released(self) -> bool:
        return any(on for _at, on in self.io.relay_history)  # fail-secure: energised = released

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return condition()


@pytest.fixture
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Gateway, int]]:
    config = _config(tmp_path)
    person_id = _enrol_resident(config)
    running = Gateway(config, getattr(request, "param", RESIDENT))
    with running.service:
        yield running, person_id
    assert not running.io.relay_energised, "relay left energised after stop"


def test_the_resident_face_releases_the_door_for_that_resident(
    gateway: tuple[Gateway, int],
) -> None:
    running, person_id = gateway
    assert running.wait_for(running.released)
    granted = [d for d in running.decisions if d.granted]
    assert {(d.method, d.person_id) for d in granted} == {(Method.FACE, person_id)}
    assert running.service.liveness()()  # threads up, both loops coming round


@pytest.mark.parametrize("gateway", [STRANGER], indirect=True)
def test_a_stranger_face_opens_nothing_and_a_station_open_does(
    gateway: tuple[Gateway, int],
) -> None:
    running, _person_id = gateway
    vision = running.service.vision_loop
    assert vision is not None
    assert running.wait_for(lambda: vision.stats.faces >= 10)
    assert not running.released() and not any(d.granted for d in running.decisions)
    app = running.service.application
    expires = datetime.now(UTC) + timedelta(seconds=30)
    refused = app.remote_open(RemoteOpen("c-1", Requester.resident("nobody"), expires))
    assert (refused.opened, refused.reason) == (False, "unknown_person")
    assert not running.released()
    opened = app.remote_open(RemoteOpen("c-2", Requester.station("guard"), expires))
    assert opened.opened
    assert running.wait_for(running.released)
    assert app.status().door_state in ("unlocked", "open", "locked")


def test_people_synced_from_the_station_get_the_confusable_check(
    gateway: tuple[Gateway, int],
) -> None:
    """Twins arriving by a people delta (written straight to the store, as the sync does) are set
    to face + card/PIN by the hook the station link calls after every people delta."""
    running, resident_id = gateway
    app = running.service.application
    twin_id = add_resident(app.store, app.door_id, "R-2", [(RESIDENT, MODEL)], card=(12, 3457))
    after_people_sync(app)
    with app.store.sessions.reading() as session:
        flags = {
            p.id: (p.two_factor, p.two_factor_source)
            for p in session.scalars(select(Person).where(Person.id.in_([resident_id, twin_id])))
        }
    assert flags == {resident_id: (True, "confusable"), twin_id: (True, "confusable")}
    assert running.service.gallery_counts.residents == 2  # the galleries were reloaded too


def test_a_template_that_fails_decryption_is_not_loaded_and_is_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tampered ciphertext (a disk error, or an edit behind the store's back) fails closed: the
    face is not recognised, the count and the log say why, the models health check is red."""
    config = _config(tmp_path)
    _enrol_resident(config)
    store = open_store(config.store)
    try:
        with store.sessions.writing() as session:
            template = session.scalars(select(FaceTemplate)).one()
            damaged = bytearray(template.ciphertext)
            damaged[0] ^= 0xFF
            template.ciphertext = bytes(damaged)
    finally:
        store.close()
    running = Gateway(config, RESIDENT)
    with caplog.at_level("ERROR", logger="gateway.runtime.service"), running.service:
        vision = running.service.vision_loop
        assert vision is not None
        assert running.wait_for(lambda: vision.stats.faces >= 10)
        counts = running.service.gallery_counts
        assert counts is not None and (counts.templates, counts.refused) == (0, 1)
        assert "failed decryption" in caplog.text
        models = next(c for c in running.service.application.status().checks if c.name == "models")
        assert not models.ok and "1 not loaded" in models.detail
        assert not running.released() and not any(d.granted for d in running.decisions)
    assert not running.io.relay_energised
