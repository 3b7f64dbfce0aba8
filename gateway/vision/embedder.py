"""Face embedding: aligned crops to L2-normalised vectors, with optional mirror averaging.

The model id travels with every vector (see `Embedding`), so a template made by another model is
never compared with this one's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.vision.errors import ModelOutputError
from gateway.vision.image_io import BGRImage
from gateway.vision.onnx_session import open_session

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EmbedderSpec:
    """How the model wants its input: colour order and per-channel mean/std on 0..255 pixels."""

    model_id: str
    color_order: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


def l2_normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    if not np.isfinite(vectors).all() or (norms < 1e-12).any():
        raise ModelOutputError("embedding is non-finite or zero")
    normalised: npt.NDArray[np.float32] = (vectors / norms).astype(np.float32)
    return normalised


class FaceEmbedder:
    """Runs the pack's embedder on aligned BGR crops."""

    def __init__(
        self,
        model_path: Path,
        spec: EmbedderSpec,
        *,
        flip_average: bool = True,
        threads: int = 2,
        tuned: bool = True,
    ) -> None:
        self.spec = spec
        self.flip_average = flip_average
        # Tuned, a graph exported with a fixed batch of 1 is freed to take the face and its mirror
        # image in one run (gateway.vision.graph_rewrite.free_batch), where its graph allows it.
        self.session = open_session(model_path, threads, tuned=tuned, batch=tuned)
        self.input_name = self.session.get_inputs()[0].name
        self.dimension = int(self.session.get_outputs()[0].shape[-1])
        # A graph still fixed to a batch of 1 is run one crop at a time.
        self.single_batch = self.session.get_inputs()[0].shape[0] == 1
        self._mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1)

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    def _blob(self, crops: Sequence[BGRImage]) -> npt.NDArray[np.float32]:
        batch = np.stack(crops)
        if self.spec.color_order == "RGB":
            batch = batch[..., ::-1]
        blob = batch.transpose(0, 3, 1, 2).astype(np.float32)
        normalised: npt.NDArray[np.float32] = (blob - self._mean) / self._std
        return normalised

    def _run(self, blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if self.single_batch:
            outputs = [
                self.session.run(None, {self.input_name: blob[i : i + 1]})[0]
                for i in range(len(blob))
            ]
            return np.concatenate([np.asarray(out, np.float32) for out in outputs])
        return np.asarray(self.session.run(None, {self.input_name: blob})[0], np.float32)

    def embed(self, crops: Sequence[BGRImage]) -> npt.NDArray[np.float32]:
        """(N, D) unit vectors for N aligned crops."""
        if not crops:
            return np.zeros((0, self.dimension), np.float32)
        inputs = list(crops)
        if self.flip_average:
            inputs += [np.ascontiguousarray(crop[:, ::-1]) for crop in crops]
        raw = self._run(self._blob(inputs))
        if raw.shape != (len(inputs), self.dimension):
            raise ModelOutputError(f"embedder output shape {raw.shape}")
        unit = l2_normalise(raw)
        if self.flip_average:
            count = len(crops)
            unit = l2_normalise(unit[:count] + unit[count:])
        return unit

    def embed_one(self, crop: BGRImage) -> Vector:
        vector: Vector = self.embed([crop])[0]
        return vector
