"""The settings page's fields: dotted paths into GatewayConfig, shown with their descriptions
and (for thresholds) the calibrated figures; a submitted form is validated by GatewayConfig
itself, the same model that validates the TOML file, so the page cannot store what the file
would refuse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.config.model import GatewayConfig
from gateway.vision.factory import PipelineModels

EDITABLE = (
    "vision.match.similarity_threshold",
    "vision.match.watchlist_threshold",
    "vision.match.min_margin",
    "vision.liveness.enabled",
    "vision.liveness.threshold",
    "vision.detector.score_threshold",
    "vision.quality.min_eye_distance_px",
    "door.lock_type",
    "door.unlock_ms",
    "door.max_unlock_ms",
    "door.held_open_s",
    "camera.source",
    "camera.kind",
    # The station link (MQTT broker, TLS files, keys): shown once GatewayConfig has [station].
    "station.enabled",
    "station.host",
    "station.port",
    "station.username",
    "station.password_file",
    "station.ca_file",
    "station.cert_file",
    "station.key_file",
    "station.station_public_key",
    # This page's own table, once GatewayConfig has [provisioning].
    "provisioning.keep_photos",
    "provisioning.session_minutes",
    "provisioning.lockout_failures",
    "provisioning.lockout_minutes",
    "provisioning.max_upload_bytes",
    "provisioning.consent_text_version",
)


def editable_paths(config: BaseModel) -> list[str]:
    """The EDITABLE paths this config has (tables added later appear without a code change)."""
    present = []
    for path in EDITABLE:
        node: object = config
        for part in path.split("."):
            node = getattr(node, part, _MISSING)
            if node is _MISSING:
                break
        else:
            present.append(path)
    return present


_MISSING = object()


@dataclass(frozen=True)
class SettingField:
    path: str
    value: str
    description: str
    choices: tuple[str, ...]
    is_bool: bool
    calibrated: str


def _field_info(config: BaseModel, path: str) -> tuple[Any, str, tuple[str, ...], bool]:
    *parents, name = path.split(".")
    node: BaseModel = config
    for part in parents:
        node = getattr(node, part)
    info = type(node).model_fields[name]
    value = getattr(node, name)
    annotation = info.annotation
    choices = tuple(str(a) for a in getattr(annotation, "__args__", ()) if isinstance(a, str))
    enum_values = getattr(annotation, "__members__", None)
    if enum_values:
        choices = tuple(str(v.value) for v in enum_values.values())
    return value, info.description or "", choices, isinstance(value, bool)


def calibrated_figures(models: PipelineModels | None) -> dict[str, str]:
    if models is None:
        return {}
    return {
        "vision.match.similarity_threshold": f"{models.similarity_threshold:.3f}",
        "vision.match.watchlist_threshold": f"{models.watchlist_threshold:.3f}",
    }


def setting_fields(config: GatewayConfig, models: PipelineModels | None) -> list[SettingField]:
    figures = calibrated_figures(models)
    fields = []
    for path in editable_paths(config):
        value, description, choices, is_bool = _field_info(config, path)
        text = "" if value is None else str(value.value if hasattr(value, "value") else value)
        fields.append(
            SettingField(path, text, description, choices, is_bool, figures.get(path, ""))
        )
    return fields


def apply_settings(
    config: GatewayConfig, submitted: dict[str, str]
) -> tuple[GatewayConfig | None, list[str], list[str]]:
    """(new config, changed paths, errors): the whole config re-validated with the changes."""
    data = config.model_dump(mode="json")
    changed = []
    for path in editable_paths(config):
        *parents, name = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        old = node.get(name)
        if isinstance(old, bool):
            new: Any = submitted.get(path) == "on"
        elif path in submitted:
            new = submitted[path].strip() or None  # an emptied field means "not set"
            if new is None and old is None:
                continue
        else:
            continue
        if str(new) != str(old):
            node[name] = new
            changed.append(path)
    try:
        return type(config).model_validate(data), changed, []
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        ]
        return None, [], problems
