"""Connecting the staff page to a running gateway's application layer.

`deps_for_application` builds ProvisioningDeps from the use cases `AccessService` built, so
`menwei run` needs one call and the page never reaches into the service: its status and live
frame are the application's queries, the confusable check at enrolment uses the door's own
decision rule, and a change to who the door knows reloads the galleries through the application.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from gateway.application.app import Application
from gateway.config.model import GatewayConfig
from gateway.config.staff_page import ProvisioningConfig
from provisioning.app import create_app
from provisioning.config_file import config_saver
from provisioning.deps import ProvisioningDeps
from provisioning.serve import RunningServer, start_server

LOG = logging.getLogger("menwei.provisioning")


def serve_beside(
    app: Application, settings: ProvisioningConfig, config_path: Path | None
) -> RunningServer | None:
    """Mount the staff page beside a started gateway over HTTPS; None when disabled."""
    if not settings.enabled:
        return None
    server = start_server(create_app(deps_for_application(app, settings, config_path)), settings)
    LOG.info("staff page on https://%s:%d/", settings.bind, server.port)
    return server


def deps_for_application(
    app: Application, settings: ProvisioningConfig, config_path: Path | None
) -> ProvisioningDeps:
    """Deps over a started gateway; without a config file the settings page cannot save."""
    deps = ProvisioningDeps(
        store=app.store,
        gateway_config=app.config,
        settings=settings,
        pipeline=app.pipeline,
        similarity_threshold=app.decision_rule.similarity_threshold,
        decision_rule=app.decision_rule,
        door_id=app.door_id,
        status_provider=app.status,
        frame_provider=app.live_frame,
        clock=app.now,
        config_changes=app.config_changes,
        people_changed=lambda: LOG.info("resident gallery: %d templates", app.reload_galleries()),
    )
    if config_path is not None:
        save: Callable[[GatewayConfig], None] = config_saver(config_path)
        deps.save_config = save
    return deps
