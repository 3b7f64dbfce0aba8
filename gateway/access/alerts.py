"""Suspicious-event alerts: stored with a bounded JPEG snapshot and queued for the station.

The alert row and its outbox message are written in one transaction. Snapshots are re-encoded
smaller (lower quality, then smaller size) until they fit `max_snapshot_bytes`; a frame that cannot
be encoded is dropped from the alert, never the alert itself. Alerts carry no embeddings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from gateway.store.alerts_audit import raise_alert
from gateway.store.base import Severity
from gateway.store.events import enqueue
from gateway.store.store import Store
from gateway.vision.image_io import BGRImage

LOG = logging.getLogger(__name__)
ALERT_TOPIC = "alert"


def encode_snapshot(frame: BGRImage, max_bytes: int) -> bytes | None:
    """A JPEG of the frame no larger than `max_bytes`, or None if even a small one is too big."""
    image = frame
    for _ in range(6):
        for quality in (85, 70, 55, 40):
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(data) <= max_bytes:
                return bytes(data.tobytes())
        height, width = image.shape[:2]
        if min(height, width) < 64:
            break
        image = np.asarray(
            cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA), np.uint8
        )
    return None


@dataclass(frozen=True)
class RaisedAlert:
    alert_id: int
    kind: str
    severity: Severity
    outbox_seq: int


class AlertRecorder:
    """Writes alerts for one door of one gateway."""

    def __init__(
        self,
        store: Store,
        *,
        gateway_id: str,
        door_id: int,
        now: Callable[[], datetime],
        snapshot_allowed: Callable[[], bool] = lambda: True,
    ) -> None:
        self.snapshot_allowed = snapshot_allowed
        self.store = store
        self.gateway_id = gateway_id
        self.door_id = door_id
        self.now = now
        self.failures = 0

    def raise_(
        self,
        kind: str,
        severity: Severity,
        detail: Mapping[str, Any] | None = None,
        snapshot: BGRImage | None = None,
    ) -> RaisedAlert | None:
        at = self.now()
        limit = self.store.config.max_snapshot_bytes
        keep = snapshot is not None and self.snapshot_allowed()
        jpeg = encode_snapshot(snapshot, limit) if keep and snapshot is not None else None
        try:
            with self.store.sessions.writing() as session:
                alert = raise_alert(
                    session,
                    kind=kind,
                    severity=severity,
                    occurred_at=at,
                    max_snapshot_bytes=limit,
                    door_id=self.door_id,
                    snapshot_jpeg=jpeg,
                )
                payload = {
                    "alert_id": alert.id,
                    "kind": kind,
                    "severity": severity.value,
                    "occurred_at": at.isoformat(),
                    "has_snapshot": jpeg is not None,
                    "detail": dict(detail or {}),
                }
                message = enqueue(session, self.gateway_id, ALERT_TOPIC, payload, at)
                raised = RaisedAlert(alert.id, kind, severity, message.seq)
        except SQLAlchemyError as error:
            self.failures += 1
            LOG.error("alert %s could not be stored: %s", kind, error)
            return None
        LOG.warning("ALERT %s (%s) %s", kind, severity.value, dict(detail or {}))
        return raised
