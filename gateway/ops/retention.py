"""Retention: expire what the gateway no longer needs, and keep snapshots from starving the disk.

`run_retention(store, config, now)` deletes, each in its own short write transaction: access
events older than `events_days`; alert snapshots older than `snapshot_days` (or
`unknown_face_hours` for alerts about unidentified people), inline JPEGs and snapshot files
alike; alert rows older than `alerts_days`; visitor codes that expired, were revoked or are used
up, after a grace period; and, when `outbox_delivered_days` is set, outbox rows the station
acknowledged longer ago than that (by default the station link prunes them after its replay
window, `[station] retention_days`). SQLite runs with secure_delete=ON, so the freed pages are
zeroed, and the WAL is truncated afterwards so old page images do not keep the images either.
The audit log is append-only and is never touched. `DiskGuard.snapshot_allowed()` says whether a new
snapshot may be written (free space above the floor).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from gateway.config.ops import RetentionConfig
from gateway.ops.telemetry import disk_free_bytes
from gateway.store.erasure import truncate_wal
from gateway.store.migrate import sqlite_file
from gateway.store.schema_credentials import VisitorCode, VisitorCodeDoor
from gateway.store.schema_events import AccessEvent, Alert, OutboxMessage
from gateway.store.store import Store
from gateway.worker import LoopWorker

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionReport:
    """How many rows (or files) each rule removed in one run."""

    events: int
    snapshots: int
    unknown_face_snapshots: int
    snapshot_files: int
    alerts: int
    visitor_codes: int
    outbox_delivered: int
    wal_truncated: bool

    @property
    def total(self) -> int:
        return (
            self.events
            + self.snapshots
            + self.unknown_face_snapshots
            + self.alerts
            + self.visitor_codes
            + self.outbox_delivered
        )


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _clear_snapshots(session: Session, condition: object) -> tuple[int, int]:
    """Clear inline and file snapshots of the alerts matching `condition`; (alerts, files)."""
    has_snapshot = or_(Alert.snapshot_jpeg.is_not(None), Alert.snapshot_path.is_not(None))
    rows = session.execute(
        select(Alert.id, Alert.snapshot_path).where(condition, has_snapshot)  # type: ignore[arg-type]
    ).all()
    files = 0
    for _alert_id, path in rows:
        if path and _unlink(Path(path)):
            files += 1
    if rows:
        session.execute(
            update(Alert)
            .where(Alert.id.in_([alert_id for alert_id, _path in rows]))
            .values(snapshot_jpeg=None, snapshot_path=None)
            .execution_options(synchronize_session=False)
        )
    return len(rows), files


def _unlink(path: Path) -> bool:
    try:
        if path.is_file():
            path.unlink()
            return True
    except OSError as error:
        LOG.error("could not delete expired snapshot %s: %s", path, error)
    return False


def _expired_visitor_codes(session: Session, config: RetentionConfig, now: datetime) -> int:
    cutoff = now - timedelta(days=config.visitor_code_grace_days)
    finished = or_(VisitorCode.revoked.is_(True), VisitorCode.use_count >= VisitorCode.max_uses)
    ids = list(
        session.scalars(
            select(VisitorCode.id).where(
                or_(
                    VisitorCode.valid_until < cutoff,
                    and_(finished, VisitorCode.created_at < cutoff),
                )
            )
        )
    )
    if not ids:
        return 0
    session.execute(delete(VisitorCodeDoor).where(VisitorCodeDoor.code_id.in_(ids)))
    return _rowcount(session.execute(delete(VisitorCode).where(VisitorCode.id.in_(ids))))


def run_retention(store: Store, config: RetentionConfig, now: datetime) -> RetentionReport:
    """Apply every retention rule once (times compare against `now`, timezone-aware UTC)."""
    writing = store.sessions.writing
    with writing() as session:
        unknown_cutoff = now - timedelta(hours=config.unknown_face_hours)
        unknown, unknown_files = _clear_snapshots(
            session,
            and_(
                Alert.kind.in_(config.unknown_face_kinds),
                Alert.occurred_at < unknown_cutoff,
            ),
        )
    with writing() as session:
        snapshots, files = _clear_snapshots(
            session, Alert.occurred_at < now - timedelta(days=config.snapshot_days)
        )
    with writing() as session:
        alerts = _rowcount(
            session.execute(
                delete(Alert).where(Alert.occurred_at < now - timedelta(days=config.alerts_days))
            )
        )
    with writing() as session:
        events = _rowcount(
            session.execute(
                delete(AccessEvent).where(
                    AccessEvent.occurred_at < now - timedelta(days=config.events_days)
                )
            )
        )
    with writing() as session:
        codes = _expired_visitor_codes(session, config, now)
    outbox = 0
    if config.outbox_delivered_days is not None:
        with writing() as session:
            outbox = _rowcount(
                session.execute(
                    delete(OutboxMessage).where(
                        OutboxMessage.delivered_at.is_not(None),
                        OutboxMessage.delivered_at
                        < now - timedelta(days=config.outbox_delivered_days),
                    )
                )
            )
    report = RetentionReport(
        events=events,
        snapshots=snapshots,
        unknown_face_snapshots=unknown,
        snapshot_files=files + unknown_files,
        alerts=alerts,
        visitor_codes=codes,
        outbox_delivered=outbox,
        wal_truncated=False,
    )
    wal_truncated = truncate_wal(store.engine) if report.total else False
    report = RetentionReport(**{**report.__dict__, "wal_truncated": wal_truncated})
    if report.total:
        LOG.info("retention: %s", report)
    return report


class DiskGuard:
    """Answers whether a snapshot may be written: free space on the data file system above the
    floor. The answer is cached for `cache_s` so a burst of alerts costs one statvfs."""

    def __init__(
        self,
        path: Path,
        min_free_bytes: int,
        *,
        free_bytes: Callable[[Path], int] = disk_free_bytes,
        clock: Callable[[], float] = time.monotonic,
        cache_s: float = 10.0,
    ) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self.free_bytes = free_bytes
        self.clock = clock
        self.cache_s = cache_s
        self._checked: tuple[float, bool] | None = None
        self.refusals = 0

    @classmethod
    def for_store(cls, store: Store, config: RetentionConfig, fallback: Path) -> DiskGuard:
        """Guard the SQLite file's folder (or `fallback` for PostgreSQL / in-memory)."""
        database = sqlite_file(store.engine)
        folder = database.parent if database is not None else fallback
        return cls(folder, config.min_free_mb * 1024 * 1024)

    def snapshot_allowed(self) -> bool:
        now = self.clock()
        if self._checked is not None and now - self._checked[0] < self.cache_s:
            allowed = self._checked[1]
        else:
            try:
                allowed = self.free_bytes(self.path) >= self.min_free_bytes
            except OSError as error:
                LOG.error("free space of %s unknown (%s): refusing snapshots", self.path, error)
                allowed = False
            if self._checked is not None and self._checked[1] and not allowed:
                LOG.error(
                    "free space on %s below %d MB: snapshots are no longer written",
                    self.path,
                    self.min_free_bytes // (1024 * 1024),
                )
            self._checked = (now, allowed)
        if not allowed:
            self.refusals += 1
        return allowed


class RetentionJob:
    """A thread running `run_retention` every `config.interval_s` (first run at start)."""

    def __init__(self, store: Store, config: RetentionConfig, now: Callable[[], datetime]) -> None:
        self.store = store
        self.config = config
        self.now = now
        self.last_report: RetentionReport | None = None
        self.failures = 0
        self._worker = LoopWorker("retention", self._step)

    def run_once(self) -> RetentionReport | None:
        try:
            self.last_report = run_retention(self.store, self.config, self.now())
        except Exception:  # the door keeps working; the next run retries
            self.failures += 1
            LOG.exception("retention run failed")
            return None
        return self.last_report

    def start(self) -> None:
        self._worker.start()

    def _step(self, stopping: threading.Event) -> None:
        self.run_once()
        stopping.wait(self.config.interval_s)

    def stop(self, timeout: float = 30.0) -> None:
        self._worker.stop(timeout)
