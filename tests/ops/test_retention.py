"""Retention rules and the snapshot disk floor on a real SQLite store (open_store, migrated)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.config.ops import RetentionConfig
from gateway.ops.retention import DiskGuard, RetentionJob, run_retention
from gateway.store.alerts_audit import append_audit, raise_alert
from gateway.store.base import Method, Role, Severity, Verdict
from gateway.store.events import mark_delivered, record_access_event
from gateway.store.people import add_person
from gateway.store.places import add_building, add_door, add_site, add_unit
from gateway.store.schema_credentials import VisitorCode, VisitorCodeDoor
from gateway.store.schema_events import AccessEvent, Alert, AuditEntry, OutboxMessage
from gateway.store.store import Store
from gateway.store.visitor_codes import issue_visitor_code, revoke_visitor_code
from tests.sqlite_store import sqlite_store_in

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + b"face" * 64
GATEWAY = "gw-1"


@dataclass(frozen=True)
class Place:
    site_id: int
    unit_id: int
    door_id: int
    person_id: int


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_in(tmp_path) as opened:
        yield opened


@pytest.fixture
def place(store: Store) -> Place:
    with store.sessions.writing() as session:
        site = add_site(
            session,
            code="s1",
            name="Site",
            province="p",
            city="c",
            district="d",
            street="s",
            community="m",
        )
        building = add_building(session, site.id, "1")
        unit = add_unit(session, building.id, "1", "101")
        door = add_door(session, building.id, "main", GATEWAY, "main door")
        person = add_person(
            session,
            external_id="r1",
            display_name="Resident",
            role=Role.OWNER,
            unit_id=unit.id,
            valid_from=NOW - timedelta(days=400),
        )
        return Place(site.id, unit.id, door.id, person.id)


def count(store: Store, table: type[object], *where: object) -> int:
    with store.sessions.reading() as session:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int(session.scalar(query) or 0)


def add_event(store: Store, place: Place, age: timedelta) -> int:
    with store.sessions.writing() as session:
        _event, message = record_access_event(
            session,
            gateway_id=GATEWAY,
            door_id=place.door_id,
            method=Method.CARD,
            verdict=Verdict.GRANT,
            reason_code="ok",
            occurred_at=NOW - age,
            person_id=place.person_id,
        )
        return message.seq


def add_alert(
    store: Store, place: Place, kind: str, age: timedelta, path: Path | None = None
) -> int:
    with store.sessions.writing() as session:
        alert = raise_alert(
            session,
            kind=kind,
            severity=Severity.WARNING,
            occurred_at=NOW - age,
            max_snapshot_bytes=100_000,
            door_id=place.door_id,
            snapshot_jpeg=None if path else JPEG,
            snapshot_path=str(path) if path else None,
        )
        return alert.id


def snapshot_of(store: Store, alert_id: int) -> tuple[bytes | None, str | None] | None:
    with store.sessions.reading() as session:
        alert = session.get(Alert, alert_id)
        return None if alert is None else (alert.snapshot_jpeg, alert.snapshot_path)


def test_events_older_than_retention_are_deleted(store: Store, place: Place) -> None:
    add_event(store, place, timedelta(days=31))
    add_event(store, place, timedelta(days=29))
    report = run_retention(store, RetentionConfig(), NOW)
    assert report.events == 1
    assert count(store, AccessEvent) == 1
    assert count(store, AccessEvent, AccessEvent.occurred_at < NOW - timedelta(days=30)) == 0


def test_snapshots_expire_before_their_alerts(store: Store, place: Place, tmp_path: Path) -> None:
    config = RetentionConfig()
    fresh_unknown = add_alert(store, place, "loiterer", timedelta(hours=70))
    old_unknown = add_alert(store, place, "loiterer", timedelta(hours=73))
    file = tmp_path / "snap.jpg"
    file.write_bytes(JPEG)
    old_unknown_file = add_alert(store, place, "tailgating", timedelta(days=4), path=file)
    watch_hit = add_alert(store, place, "watchlist_hit", timedelta(days=4))
    old_watch_hit = add_alert(store, place, "watchlist_hit", timedelta(days=8))
    ancient = add_alert(store, place, "camera_tamper", timedelta(days=31))

    report = run_retention(store, config, NOW)

    assert snapshot_of(store, fresh_unknown) == (JPEG, None)
    assert snapshot_of(store, old_unknown) == (None, None)
    assert snapshot_of(store, old_unknown_file) == (None, None)
    assert not file.exists()
    assert snapshot_of(store, watch_hit) == (JPEG, None)  # not unknown-face: kept 7 days
    assert snapshot_of(store, old_watch_hit) == (None, None)  # the row stays
    assert snapshot_of(store, ancient) is None  # the row is gone after alerts_days
    assert (report.unknown_face_snapshots, report.snapshot_files) == (2, 1)
    assert (report.snapshots, report.alerts) == (2, 1)
    assert report.wal_truncated
    again = run_retention(store, config, NOW)
    assert again.total == 0


def test_cleared_snapshot_bytes_leave_the_database_file(
    store: Store, place: Place, tmp_path: Path
) -> None:
    marker = b"\xff\xd8\xff" + b"UNIQUE-FACE-BYTES-" * 20
    with store.sessions.writing() as session:
        raise_alert(
            session,
            kind="loiterer",
            severity=Severity.WARNING,
            occurred_at=NOW - timedelta(days=10),
            max_snapshot_bytes=100_000,
            snapshot_jpeg=marker,
        )
    run_retention(store, RetentionConfig(), NOW)
    data = (tmp_path / "menwei.db").read_bytes()
    wal = tmp_path / "menwei.db-wal"
    data += wal.read_bytes() if wal.exists() else b""
    assert b"UNIQUE-FACE-BYTES-" not in data


def test_visitor_codes_expire_after_grace(store: Store, place: Place) -> None:
    def issue(valid_from: datetime, valid_until: datetime, max_uses: int = 1) -> int:
        with store.sessions.writing() as session:
            return issue_visitor_code(
                session,
                store.codes,
                site_id=place.site_id,
                unit_id=place.unit_id,
                door_ids=[place.door_id],
                issued_by="resident",
                issued_by_person_id=place.person_id,
                valid_from=valid_from,
                valid_until=valid_until,
                max_uses=max_uses,
            ).code_id

    expired = issue(NOW - timedelta(days=5), NOW - timedelta(days=2))
    expired_recently = issue(NOW - timedelta(days=1), NOW - timedelta(hours=12))
    live = issue(NOW - timedelta(days=3), NOW + timedelta(days=1))
    revoked = issue(NOW - timedelta(days=3), NOW + timedelta(days=1))
    with store.sessions.writing() as session:
        revoke_visitor_code(session, revoked)
        # created_at defaults to the wall clock: date the revoked code's issue back
        session.get(VisitorCode, revoked).created_at = NOW - timedelta(days=3)  # type: ignore[union-attr]
    report = run_retention(store, RetentionConfig(), NOW)
    with store.sessions.reading() as session:
        left = set(session.scalars(select(VisitorCode.id)))
        doors = set(session.scalars(select(VisitorCodeDoor.code_id)))
    assert left == {expired_recently, live} and expired not in left
    assert doors == left
    assert report.visitor_codes == 2


def test_delivered_outbox_rows_are_pruned_undelivered_kept(store: Store, place: Place) -> None:
    first = add_event(store, place, timedelta(hours=2))
    second = add_event(store, place, timedelta(hours=1))
    add_event(store, place, timedelta(minutes=1))
    with store.sessions.writing() as session:
        mark_delivered(session, GATEWAY, first, NOW - timedelta(days=3))
        mark_delivered(session, GATEWAY, second, NOW - timedelta(hours=1))
    assert run_retention(store, RetentionConfig(), NOW).outbox_delivered == 0  # station's job
    report = run_retention(store, RetentionConfig(outbox_delivered_days=2), NOW)
    assert report.outbox_delivered == 1
    with store.sessions.reading() as session:
        seqs = sorted(session.scalars(select(OutboxMessage.seq)))
    assert seqs == [second, second + 1]


def test_audit_log_is_never_pruned(store: Store, place: Place) -> None:
    with store.sessions.writing() as session:
        append_audit(
            session,
            actor="staff",
            action="login",
            target="page",
            occurred_at=NOW - timedelta(days=900),
        )
    run_retention(
        store,
        RetentionConfig(events_days=1, alerts_days=1, snapshot_days=1, unknown_face_hours=1),
        NOW,
    )
    assert count(store, AuditEntry) == 1


def test_retention_job_runs_and_survives_a_failure(store: Store, place: Place) -> None:
    add_event(store, place, timedelta(days=40))
    job = RetentionJob(store, RetentionConfig(), lambda: NOW)
    report = job.run_once()
    assert report is not None and report.events == 1
    broken = RetentionJob(store, RetentionConfig(), lambda: "not a datetime")  # type: ignore[arg-type,return-value]
    assert broken.run_once() is None and broken.failures == 1


def test_disk_guard_stops_snapshots_below_the_floor(tmp_path: Path) -> None:
    free = [600 * 1024 * 1024]
    clock = [0.0]
    guard = DiskGuard(
        tmp_path,
        512 * 1024 * 1024,
        free_bytes=lambda _path: free[0],
        clock=lambda: clock[0],
        cache_s=10.0,
    )
    assert guard.snapshot_allowed()
    free[0] = 100 * 1024 * 1024
    assert guard.snapshot_allowed()  # cached for cache_s
    clock[0] = 11.0
    assert not guard.snapshot_allowed()
    assert guard.refusals == 1
    free[0] = 1024 * 1024 * 1024
    clock[0] = 22.0
    assert guard.snapshot_allowed()


def test_disk_guard_refuses_when_free_space_is_unknown(tmp_path: Path) -> None:
    def broken(_path: Path) -> int:
        raise OSError("statvfs failed")

    assert not DiskGuard(tmp_path, 1, free_bytes=broken).snapshot_allowed()


def test_disk_guard_for_store_watches_the_database_folder(store: Store, tmp_path: Path) -> None:
    guard = DiskGuard.for_store(store, RetentionConfig(min_free_mb=16), tmp_path / "fallback")
    assert guard.path == tmp_path
    assert guard.min_free_bytes == 16 * 1024 * 1024
    assert guard.snapshot_allowed()  # a test machine has 16 MB free


def test_config_rejects_snapshots_outliving_alerts() -> None:
    with pytest.raises(ValueError):
        RetentionConfig(snapshot_days=40, alerts_days=30)
    with pytest.raises(ValueError):
        RetentionConfig(snapshot_days=2, unknown_face_hours=72)
