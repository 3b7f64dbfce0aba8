"""`FaceAnalyser`: what the recogniser, the runtime and enrolment need from a face pipeline.

`FacePipeline` (ONNX detector, aligner, liveness models, embedder) is the one in use; another
backend (an NPU runtime such as RKNN) is one class with these members, and tests of the policy,
door and station paths pass a fake that needs no model files.
"""

from __future__ import annotations

from typing import Protocol

from gateway.config.model import VisionConfig
from gateway.vision.image_io import BGRImage
from gateway.vision.pipeline import FaceAnalysis, StageTimer


class HasDimension(Protocol):
    @property
    def dimension(self) -> int: ...


class FaceAnalyser(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def config(self) -> VisionConfig: ...

    @property
    def embedder(self) -> HasDimension: ...

    @property
    def timer(self) -> StageTimer: ...

    def analyse(
        self, frame: BGRImage, *, max_faces: int | None = None, check_liveness: bool = True
    ) -> list[FaceAnalysis]:
        """Every detected face (largest first, up to `max_faces`), gated and embedded."""
        ...
