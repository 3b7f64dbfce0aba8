"""Start the station link over the application layer's use cases.

The link gets queries and commands, never the running service: a remote open goes through
`RemoteOpenCommand` (policy, then the door's expiring grant), a visitor call's answer through
`AnswerCallCommand`, deltas through `StationSync`, status, snapshots and telemetry through the
status, live-frame and telemetry queries. A people delta may bring twins: after it the confusable
check runs over every resident, as enrolment runs it for a new face.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from gateway.access.confusable import check_residents
from gateway.application.app import Application
from gateway.application.status import station_status
from gateway.runtime.call_desk import CallDesk
from gateway.station.commands import StationCallbacks
from gateway.station.config_access import ModelConfigAccess
from gateway.station.link import StationLink

LOG = logging.getLogger(__name__)


def after_people_sync(app: Application) -> None:
    """A people delta changed the residents: reload the galleries, then check every resident the
    door would now recognise for confusable faces (a synced twin needs a card or PIN as well, as
    one enrolled on the staff page does). A failed check is logged; the sync itself stands."""
    app.reload_galleries()
    try:
        check_residents(
            app.store,
            model_id=app.pipeline.model_id,
            dimension=app.pipeline.embedder.dimension,
            rule=app.decision_rule,
            at=app.now(),
            trigger="station sync",
        )
    except SQLAlchemyError as error:
        LOG.error("confusable-faces check after a station sync failed: %s", error)


def start_station_link(app: Application, desk: CallDesk | None = None) -> StationLink | None:
    """Build and start the link when `[station] enabled`; None otherwise. `desk` holds the
    ringing visitor calls (their snapshots; answers go through `app.answer_call`)."""
    config = app.config
    if not config.station.enabled:
        return None

    def reload() -> None:
        app.reload_galleries()

    callbacks = StationCallbacks(
        telemetry=app.telemetry.values,
        on_remote_open=app.remote_open,
        status=lambda: station_status(app.status()),
        take_snapshot=app.live_frame.snapshot_jpeg,
        config=ModelConfigAccess(config, changes=app.config_changes),
        on_watchlist_changed=reload,
        on_people_changed=lambda: after_people_sync(app),
    )
    if desk is not None:
        callbacks.on_call_answer = app.answer_call
        callbacks.call_snapshot = desk.snapshot_of
    link = StationLink(
        config.station,
        app.store,
        site_id=config.site.id,
        gateway_id=config.site.gateway_id,
        door_id=app.door_id,
        model_id=app.pipeline.model_id,
        callbacks=callbacks,
        now=app.now,
    )
    link.start()
    if desk is not None:
        desk.outbox_listener = link.notify
    return link
