"""Connecting the staff page to a running AccessService: its status, its camera, its store.

`deps_for_service` builds ProvisioningDeps from a started service, so `menwei run` needs one
call. The live view shows the last frame the vision loop decided on, with its detection boxes
and decided identities (`VisionLoop.last_results`); the broker check is the station link's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from gateway.config.model import GatewayConfig
from gateway.config.staff_page import ProvisioningConfig
from gateway.runtime.service import AccessService
from gateway.vision.decision import Verdict
from gateway.vision.recogniser import FaceResult
from provisioning.app import create_app
from provisioning.config_file import config_saver
from provisioning.deps import (
    FaceBox,
    GatewayStatus,
    HealthCheck,
    LiveFrame,
    ProvisioningDeps,
)
from provisioning.serve import RunningServer, start_server

LOG = logging.getLogger("menwei.provisioning")


def serve_beside(
    service: AccessService, settings: ProvisioningConfig, config_path: Path | None
) -> RunningServer | None:
    """Mount the staff page beside a started service over HTTPS; None when disabled."""
    if not settings.enabled:
        return None
    app = create_app(deps_for_service(service, settings, config_path))
    server = start_server(app, settings)
    LOG.info("staff page on https://%s:%d/", settings.bind, server.port)
    return server


def service_status(service: AccessService) -> GatewayStatus:
    checks = []
    door_state = "stopped"
    if service.door_loop is not None:
        door_state = service.door_loop.door.state.value
        alarms = ", ".join(sorted(a.value for a in service.door_loop.door.alarms))
        checks.append(HealthCheck("door", service.door_loop.running, alarms))
    if service.camera is not None:
        status = service.camera.status()
        active = [str(c.kind) for c in status.health.conditions if c.active]
        age = status.health.last_frame_age_s
        detail = f"{status.capture.state}" + (f", frame {age:.1f} s old" if age is not None else "")
        ok = not active and str(status.capture.state) == "running"
        checks.append(
            HealthCheck("camera", ok, detail + (f"; {', '.join(active)}" if active else ""))
        )
    counts = service.gallery_counts
    models_ok = service.pipeline is not None and service.vision_loop is not None
    detail = "" if counts is None else f"{counts.residents} people, {counts.templates} templates"
    if counts is not None and counts.refused_other_model:
        models_ok = False
        detail += f", {counts.refused_other_model} from another model (re-enrol)"
    checks.append(HealthCheck("models", models_ok and service.alive(), detail))
    station = service.station
    if station is None:
        checks.append(HealthCheck("broker", True, "station link disabled ([station] enabled)"))
    else:
        connected = station.connected
        detail = "connected" if connected else (station.last_error or "connecting")
        checks.append(HealthCheck("broker", connected, detail))
    return GatewayStatus(door_state, tuple(checks))


def _label(result: FaceResult) -> str:
    """The decided identity (a person id in the gallery) or the verdict, e.g. 'unknown'."""
    decision = result.decision
    return f"#{decision.identity}" if decision.identity else str(decision.verdict)


def service_frame(service: AccessService) -> LiveFrame | None:
    """The last frame the vision loop decided on, with its faces; else the camera's newest."""
    last = service.vision_loop.last_results if service.vision_loop is not None else None
    if last is not None:
        _seq, image, results = last
        faces = tuple(
            FaceBox(r.analysis.detection.box, _label(r), r.decision.verdict is Verdict.GRANT)
            for r in results
        )
        return LiveFrame(image, faces)
    camera = service.camera
    captured = camera.latest(0, timeout=0) if camera is not None else None
    return None if captured is None else LiveFrame(captured.image, ())


def reload_residents(service: AccessService) -> int:
    """Swap freshly loaded galleries into the running recogniser; returns the template count."""
    service.reload_galleries()
    return 0 if service.gallery_counts is None else service.gallery_counts.templates


def deps_for_service(
    service: AccessService, settings: ProvisioningConfig, config_path: Path | None
) -> ProvisioningDeps:
    """Deps over a started service; without a config file the settings page cannot save.

    The confusable check at enrolment uses the service's own decision rule.
    """
    if service.store is None:
        raise RuntimeError("start the AccessService before mounting the staff page")
    deps = ProvisioningDeps(
        store=service.store,
        gateway_config=service.config,
        settings=settings,
        pipeline=service.pipeline,
        similarity_threshold=(
            service.recogniser.rule.similarity_threshold if service.recogniser else 1.0
        ),
        decision_rule=service.recogniser.rule if service.recogniser else None,
        door_id=service.door_id,
        status_provider=lambda: service_status(service),
        frame_provider=lambda: service_frame(service),
        clock=service.now,
        people_changed=lambda: LOG.info(
            "resident gallery: %d templates", reload_residents(service)
        ),
    )
    if config_path is not None:
        save: Callable[[GatewayConfig], None] = config_saver(config_path)
        deps.save_config = save
    return deps
