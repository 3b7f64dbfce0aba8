"""YuNet face detection through onnxruntime, with our own decoding equal to cv2.FaceDetectorYN.

The frame is downscaled so its longer side is at most `input_max_side`, padded at the bottom/right
to the network's input (a multiple of 32 for the dynamic model, or its fixed size), and the outputs
of the three strides are decoded exactly as OpenCV's `FaceDetectorYN` does: score = sqrt(cls*obj),
box centre = (cell + offset) * stride, size = exp(log-size) * stride, landmarks = (cell + offset) *
stride, then greedy NMS on integer boxes. Coordinates are returned in the original frame's pixels.

YuNet is trained for faces of ~10-300 px: a face filling the frame (a 468 px tight crop, someone
leaning into the camera) is not found at full size. When a frame gives no face, it is searched
once more downscaled to `close_up_max_side` (160 px: ~1/16 of the work), where such a face is of
a size the network knows; frames that do have a face never pay for it. Such faces are marked
`close_up`: the pipeline reports them (too close) but never grants on them, because the liveness
crops (2.7x and 4x the face box) are clipped to the face itself there and MiniFASNet loses the
context it needs (a tight screen-replay crop scored 0.80 "real").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gateway.vision.errors import ModelOutputError
from gateway.vision.image_io import BGRImage
from gateway.vision.onnx_session import open_session

STRIDES = (8, 16, 32)
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Detection:
    """One face: box (x, y, w, h) and 5 landmarks (eye L, eye R, nose, mouth L, mouth R as seen
    in the image), all in frame pixels, and the detector's score."""

    box: tuple[float, float, float, float]
    landmarks: FloatArray  # shape (5, 2)
    score: float
    close_up: bool = False  # found only by the close-up search: the face fills the frame

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    def as_row(self) -> FloatArray:
        """The 15-value row layout of cv2.FaceDetectorYN.detect()."""
        return np.concatenate(
            [np.asarray(self.box, np.float32), self.landmarks.reshape(-1), [self.score]]
        ).astype(np.float32)


def _round_up_32(value: int) -> int:
    return ((value - 1) // 32 + 1) * 32


class YuNetDetector:
    """Face detector over a YuNet ONNX model (fixed 640x640 or dynamic input)."""

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.3,
        top_k: int = 50,
        input_max_side: int = 640,
        close_up_max_side: int | None = 160,
        threads: int = 2,
        tuned: bool = True,
    ) -> None:
        self.session = open_session(model_path, threads, tuned=tuned)
        shape = self.session.get_inputs()[0].shape
        self.input_name = self.session.get_inputs()[0].name
        self.fixed_size = (
            (shape[3], shape[2]) if all(isinstance(d, int) for d in shape[2:]) else None
        )
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        self.input_max_side = input_max_side
        self.close_up_max_side = close_up_max_side
        self.output_names = [
            f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in STRIDES
        ]

    def _network_size(self, width: int, height: int) -> tuple[int, int]:
        if self.fixed_size is not None:
            return self.fixed_size
        return _round_up_32(width), _round_up_32(height)

    def detect(self, frame: BGRImage) -> list[Detection]:
        """Faces in a BGR frame, best score first (close-up search when none at full size)."""
        faces = self.detect_at(frame, self.input_max_side)
        close_up = self.close_up_max_side
        if not faces and close_up is not None and max(frame.shape[:2]) > close_up:
            faces = self.detect_at(frame, close_up, close_up=True)
        return faces

    def detect_at(
        self, frame: BGRImage, max_side: int, *, close_up: bool = False
    ) -> list[Detection]:
        """Faces found with the frame downscaled so its longer side is at most `max_side`."""
        height, width = frame.shape[:2]
        scale = min(1.0, max_side / max(height, width))
        if self.fixed_size is not None:
            scale = min(scale, self.fixed_size[0] / width, self.fixed_size[1] / height)
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            frame = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)
            scale_x, scale_y = width / size[0], height / size[1]
        else:
            scale_x = scale_y = 1.0
        rows = self.detect_raw(frame)
        detections = []
        for row in rows:
            box = (
                float(row[0] * scale_x),
                float(row[1] * scale_y),
                float(row[2] * scale_x),
                float(row[3] * scale_y),
            )
            landmarks = row[4:14].reshape(5, 2) * np.array([scale_x, scale_y], np.float32)
            detections.append(
                Detection(box, landmarks.astype(np.float32), float(row[14]), close_up)
            )
        return detections

    def detect_raw(self, frame: BGRImage) -> FloatArray:
        """cv2.FaceDetectorYN-compatible rows (N, 15) for a frame at network resolution."""
        height, width = frame.shape[:2]
        net_w, net_h = self._network_size(width, height)
        if width > net_w or height > net_h:
            raise ValueError(f"frame {width}x{height} larger than network input {net_w}x{net_h}")
        padded = cv2.copyMakeBorder(
            frame, 0, net_h - height, 0, net_w - width, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        blob = padded.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
        outputs = self.session.run(self.output_names, {self.input_name: blob})
        named = dict(zip(self.output_names, outputs, strict=True))
        candidates = self._decode(named, net_w, net_h)
        return self._suppress(candidates)

    def _decode(self, named: dict[str, FloatArray], net_w: int, net_h: int) -> FloatArray:
        decoded = []
        for stride in STRIDES:
            cols, rows = net_w // stride, net_h // stride
            cls = named[f"cls_{stride}"].reshape(-1)
            obj = named[f"obj_{stride}"].reshape(-1)
            bbox = named[f"bbox_{stride}"].reshape(-1, 4)
            kps = named[f"kps_{stride}"].reshape(-1, 10)
            if cls.shape[0] != rows * cols:
                raise ModelOutputError(
                    f"stride {stride}: {cls.shape[0]} anchors, expected {rows * cols}"
                )
            if not (np.isfinite(cls).all() and np.isfinite(obj).all()):
                raise ModelOutputError(f"stride {stride}: non-finite scores")
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = np.nonzero(score >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            col = (keep % cols).astype(np.float32)
            row = (keep // cols).astype(np.float32)
            cx = (col + bbox[keep, 0]) * stride
            cy = (row + bbox[keep, 1]) * stride
            w = np.exp(bbox[keep, 2]) * stride
            h = np.exp(bbox[keep, 3]) * stride
            points = kps[keep].reshape(-1, 5, 2)
            lx = (points[:, :, 0] + col[:, None]) * stride
            ly = (points[:, :, 1] + row[:, None]) * stride
            landmarks = np.stack([lx, ly], axis=2).reshape(-1, 10)
            block = np.column_stack([cx - w / 2, cy - h / 2, w, h, landmarks, score[keep]])
            decoded.append(block.astype(np.float32))
        if not decoded:
            return np.zeros((0, 15), np.float32)
        candidates = np.concatenate(decoded)
        if not np.isfinite(candidates).all():
            raise ModelOutputError("non-finite box or landmark values")
        return candidates

    def _suppress(self, candidates: FloatArray) -> FloatArray:
        if candidates.shape[0] == 0:
            return candidates
        # OpenCV runs NMS on integer rectangles (cv::Rect2i) built from the float boxes.
        boxes = [[int(b[0]), int(b[1]), int(b[2]), int(b[3])] for b in candidates[:, :4]]
        keep = cv2.dnn.NMSBoxes(
            boxes,
            candidates[:, 14].tolist(),
            self.score_threshold,
            self.nms_threshold,
            top_k=self.top_k,
        )
        order = np.asarray(keep, dtype=np.int64).reshape(-1)
        return candidates[order]
