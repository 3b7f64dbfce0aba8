"""How AccessService gets its face analyser and thresholds: injected, the ONNX models by default.

`load_onnx_recognition` resolves and verifies the configured model pack (the production path);
a test or another backend passes its own `RecognitionLoader`, so the runtime never hard-wires
the models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.config.model import GatewayConfig
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.factory import effective_thresholds, load_pipeline


@dataclass(frozen=True)
class LoadedRecognition:
    analyser: FaceAnalyser
    resident_threshold: float
    watch_threshold: float
    small_gallery_threshold: float = float("nan")
    fusion_agreement: float = float("nan")


RecognitionLoader = Callable[[GatewayConfig], LoadedRecognition]

LOG = logging.getLogger(__name__)


def load_onnx_recognition(config: GatewayConfig) -> LoadedRecognition:
    pipeline, models = load_pipeline(config)
    resident, watch = effective_thresholds(models, config.vision)
    if resident >= 1.0:
        LOG.warning(
            "model pack %r grants nobody by face (resident threshold %.3f: no threshold keeps its "
            "strangers out with the calibration margin); cards, PINs and visitor codes work as "
            "usual. For face, accept the 'mobilefacenet' pack (README, 'Recognition')",
            config.models.pack,
            resident,
        )
    return LoadedRecognition(
        pipeline, resident, watch, models.small_gallery_threshold, models.fusion_agreement
    )
