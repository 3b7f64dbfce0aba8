"""Every store table in one import, so Alembic and tests see the complete metadata."""

from __future__ import annotations

from gateway.store.base import Base
from gateway.store.schema_credentials import (
    Card,
    ConfusableCheck,
    FaceTemplate,
    Pin,
    SyncVersion,
    VisitorCode,
    VisitorCodeDoor,
    WatchlistEntry,
)
from gateway.store.schema_events import (
    AccessEvent,
    Alert,
    AuditEntry,
    OutboxCounter,
    OutboxMessage,
)
from gateway.store.schema_people import Building, Consent, Door, Person, Site, Unit, WeeklyWindow
from gateway.store.schema_staff import StaffAccount, StaffSession

__all__ = [
    "AccessEvent",
    "Alert",
    "AuditEntry",
    "Base",
    "Building",
    "Card",
    "ConfusableCheck",
    "Consent",
    "Door",
    "FaceTemplate",
    "OutboxCounter",
    "OutboxMessage",
    "Person",
    "Pin",
    "Site",
    "StaffAccount",
    "StaffSession",
    "SyncVersion",
    "Unit",
    "VisitorCode",
    "VisitorCodeDoor",
    "WatchlistEntry",
    "WeeklyWindow",
]
