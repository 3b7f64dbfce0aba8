"""What the use cases need from the running parts, as small Protocols (the runtime's DoorLoop,
VisionLoop and Camera satisfy them; unit tests pass fakes at the hardware boundary)."""

from __future__ import annotations

from typing import Protocol

from firmware_bridge.door import AlarmKind, DoorState
from gateway.camera.capture import CapturedFrame
from gateway.camera.runtime import CameraStatus
from gateway.vision.image_io import BGRImage
from gateway.vision.recogniser import FaceResult


class DoorView(Protocol):
    """The door thread: its state, its alarms, whether it runs, and its expiring grants."""

    @property
    def state(self) -> DoorState: ...

    @property
    def alarms(self) -> frozenset[AlarmKind]: ...

    @property
    def running(self) -> bool: ...

    def clock_ns(self) -> int: ...

    def request_grant(
        self, reason: str, grant_id: str | None, not_after_ns: int | None = None
    ) -> None: ...


class CameraView(Protocol):
    def status(self) -> CameraStatus: ...

    def latest(self, after_seq: int = 0, timeout: float | None = None) -> CapturedFrame | None: ...


class VisionView(Protocol):
    @property
    def running(self) -> bool: ...

    @property
    def last_results(self) -> tuple[int, BGRImage, list[FaceResult]] | None: ...
