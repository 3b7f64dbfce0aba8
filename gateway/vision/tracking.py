"""A greedy IoU tracker: links each frame's faces to the tracks of the previous frames.

A track keeps a bounded history of per-frame evidence, which the decision rule reads. A track that
goes unseen for more than `max_missed_frames` frames ends; a new face always starts a new track, so
evidence never carries over from one person to the next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.vision.decision import FrameEvidence

Box = tuple[float, float, float, float]  # x, y, w, h


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 for empty boxes."""
    ax2, ay2 = a[0] + a[2], a[1] + a[3]
    bx2, by2 = b[0] + b[2], b[1] + b[3]
    inter_w = min(ax2, bx2) - max(a[0], b[0])
    inter_h = min(ay2, by2) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One face followed across frames."""

    track_id: int
    box: Box
    first_frame: int
    last_frame: int
    history: deque[FrameEvidence] = field(default_factory=lambda: deque(maxlen=50))
    missed: int = 0
    hits: int = 1
    granted_to: str | None = None  # set once the track was granted, so it grants only once


class IoUTracker:
    """Greedy highest-IoU-first assignment of detections to live tracks."""

    def __init__(
        self, iou_threshold: float = 0.3, max_missed_frames: int = 5, history_length: int = 50
    ) -> None:
        self.iou_threshold = iou_threshold
        self.max_missed_frames = max_missed_frames
        self.history_length = history_length
        self.tracks: dict[int, Track] = {}
        self.frame_index = -1
        self._next_id = 1

    def update(self, boxes: Sequence[Box]) -> tuple[list[Track], list[Track]]:
        """Assign this frame's boxes; returns (track per box, in box order; tracks that ended)."""
        self.frame_index += 1
        pairs = sorted(
            (
                (iou(track.box, box), track_id, index)
                for track_id, track in self.tracks.items()
                for index, box in enumerate(boxes)
            ),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for overlap, track_id, index in pairs:
            if overlap < self.iou_threshold:
                break
            if track_id in used_tracks or index in assigned:
                continue
            track = self.tracks[track_id]
            track.box = boxes[index]
            track.last_frame = self.frame_index
            track.missed = 0
            track.hits += 1
            assigned[index] = track
            used_tracks.add(track_id)
        for index, box in enumerate(boxes):
            if index not in assigned:
                track = Track(
                    self._next_id,
                    box,
                    self.frame_index,
                    self.frame_index,
                    deque(maxlen=self.history_length),
                )
                self._next_id += 1
                self.tracks[track.track_id] = track
                assigned[index] = track
                used_tracks.add(track.track_id)
        ended = []
        for track_id in list(self.tracks):
            if track_id in used_tracks:
                continue
            track = self.tracks[track_id]
            track.missed += 1
            if track.missed > self.max_missed_frames:
                ended.append(self.tracks.pop(track_id))
        return [assigned[i] for i in range(len(boxes))], ended
