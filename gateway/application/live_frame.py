"""The live-frame query: the last frame the vision loop decided on, with its faces (else the
camera's newest), for the staff page's live view; and the station's JPEG snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.access.alerts import encode_snapshot
from gateway.application.parts import CameraView, VisionView
from gateway.vision.decision import Verdict
from gateway.vision.image_io import BGRImage
from gateway.vision.recogniser import FaceResult


@dataclass(frozen=True)
class FaceBox:
    """A face the vision loop found in the live frame: box (x, y, w, h) and its label."""

    box: tuple[float, float, float, float]
    label: str
    granted: bool = False


@dataclass(frozen=True)
class LiveFrame:
    """The newest camera frame and the faces drawn on it."""

    image: BGRImage
    faces: tuple[FaceBox, ...] = ()


def _label(result: FaceResult) -> str:
    """The decided identity (a person id in the gallery) or the verdict, e.g. 'unknown'."""
    decision = result.decision
    return f"#{decision.identity}" if decision.identity else str(decision.verdict)


class LiveFrameQuery:
    def __init__(
        self, camera: CameraView | None, vision: VisionView | None, max_snapshot_bytes: int
    ) -> None:
        self._camera = camera
        self._vision = vision
        self._max_snapshot_bytes = max_snapshot_bytes

    def __call__(self) -> LiveFrame | None:
        last = self._vision.last_results if self._vision is not None else None
        if last is not None:
            _seq, image, results = last
            faces = tuple(
                FaceBox(r.analysis.detection.box, _label(r), r.decision.verdict is Verdict.GRANT)
                for r in results
            )
            return LiveFrame(image, faces)
        captured = self._camera.latest(0, timeout=0) if self._camera is not None else None
        return None if captured is None else LiveFrame(captured.image, ())

    def snapshot_jpeg(self, wait_s: float = 0.5) -> bytes | None:
        """A JPEG of the camera's newest frame within the station's size limit, or None."""
        frame = self._camera.latest(0, wait_s) if self._camera is not None else None
        if frame is None:
            return None
        return encode_snapshot(frame.image, self._max_snapshot_bytes)
