"""The dashboard: door state, live camera with boxes and names, recent events, open alerts,
health (the service's checks plus the disk), and the camera/snapshot images it shows."""

from __future__ import annotations

import os
import shutil

import cv2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.engine import make_url

from gateway.application.events import EventFilter, EventsQuery
from gateway.application.live_frame import LiveFrame
from gateway.application.status import GatewayStatus, HealthCheck
from gateway.store.schema_events import Alert
from provisioning.web import Access, AppContext, Context, RowId, access, render

router = APIRouter()
STAFF = access(Access.STAFF)
JPEG = "image/jpeg"


def disk_check(context: AppContext) -> HealthCheck:
    url = make_url(context.deps.store.config.url)
    database = url.database if url.get_backend_name() == "sqlite" and url.database else "."
    path = os.path.dirname(os.path.abspath(database)) or "."
    try:
        usage = shutil.disk_usage(path)
    except OSError as error:
        return HealthCheck("disk", False, str(error))
    free = usage.free / usage.total if usage.total else 0.0
    return HealthCheck("disk", free > 0.1, f"{usage.free // (1024 * 1024)} MB free ({free:.0%})")


def full_status(context: AppContext) -> GatewayStatus:
    status = context.deps.status_provider()
    checks = (*status.checks, disk_check(context), context.counters.health())
    return GatewayStatus(status.door_state, checks)


@router.get("/", openapi_extra=STAFF, include_in_schema=False)
def dashboard(request: Request, context: Context) -> Response:
    query = EventsQuery(context.deps.store)
    events = query.events(EventFilter(limit=15))
    alerts = query.alerts(open_only=True, limit=15)
    page = {"status": full_status(context), "events": events, "alerts": alerts}
    return render(request, "dashboard.html", page)


def annotate(frame: LiveFrame) -> bytes:
    image = frame.image.copy()
    thickness = max(2, round(max(image.shape[:2]) / 400))
    for face in frame.faces:
        x, y, w, h = (int(v) for v in face.box)
        colour = (40, 170, 40) if face.granted else (30, 30, 220)
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thickness)
        label = face.label.encode("ascii", "replace").decode()[:40]
        origin = (x, max(12 * thickness, y - 4 * thickness))
        scale = 0.4 * thickness
        cv2.putText(image, label, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise HTTPException(503, "camera_unavailable")
    return encoded.tobytes()


@router.get("/camera.jpg", openapi_extra=STAFF, include_in_schema=False)
def camera_snapshot(context: Context) -> Response:
    frame = context.deps.frame_provider()
    if frame is None:
        raise HTTPException(503, "camera_unavailable")
    return Response(annotate(frame), media_type=JPEG)


@router.get("/alerts/{alert_id}/snapshot.jpg", openapi_extra=STAFF, include_in_schema=False)
def alert_snapshot(context: Context, alert_id: RowId) -> Response:
    with context.deps.store.sessions.reading() as session:
        alert = session.get(Alert, alert_id)
        data = None if alert is None else alert.snapshot_jpeg
    if data is None:
        raise HTTPException(404, "not_found")
    return Response(data, media_type=JPEG)
