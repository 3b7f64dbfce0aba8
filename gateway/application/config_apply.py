"""One `apply` for config changes, from the staff page's settings form or the station's
`set_config`: validate the whole config with the changes, persist it when there is a file, then
say per field whether it applied live or needs a restart.

A field is live only where the running parts re-read it (LIVE_FIELDS, checked by tests) or an
applier pushes the new value (the log level). Live fields are set on the running config object,
which the door controller and the station link hold by reference; every other field is left as
it is in the running object and reported as `restart`: it takes effect when the file is read
again. Nothing is half-applied: an invalid value changes nothing anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.config.model import GatewayConfig

# Read again at each use by the running parts: DoorController reads unlock_ms and held_open_s per
# release/check from the config object it was given; the station link reads its status interval
# per report; `logging.level` has an applier (gateway.ops.logging_setup.RUNTIME_APPLIERS).
LIVE_FIELDS = frozenset(
    {"door.unlock_ms", "door.held_open_s", "station.status_interval_s", "logging.level"}
)

Applier = Callable[[Any], None]


class Applied(StrEnum):
    LIVE = "live"
    RESTART = "restart"


class ConfigChangeRefused(ValueError):
    """A key that does not exist or a value the config model refuses; nothing was changed."""


@dataclass(frozen=True)
class ConfigChange:
    """The validated new config and, per changed field, how it took effect."""

    config: GatewayConfig
    fields: dict[str, Applied]

    @property
    def needs_restart(self) -> list[str]:
        return sorted(path for path, how in self.fields.items() if how is Applied.RESTART)


def _parent(root: BaseModel, dotted: str) -> tuple[BaseModel, str]:
    *path, leaf = dotted.split(".")
    node: Any = root
    for part in path:
        node = getattr(node, part, None)
    if not isinstance(node, BaseModel) or leaf not in type(node).model_fields:
        raise ConfigChangeRefused(f"no such setting: {dotted}")
    return node, leaf


def read_setting(root: BaseModel, dotted: str) -> Any:
    return getattr(*_parent(root, dotted))


class ConfigChanges:
    """Applies changes to the running config (`running`), one change at a time."""

    def __init__(self, running: GatewayConfig, appliers: Mapping[str, Applier] | None = None):
        self.running = running
        self._appliers = dict(appliers or {})
        self._lock = threading.Lock()

    def apply(
        self,
        changes: Mapping[str, Any],
        *,
        base: GatewayConfig | None = None,
        save: Callable[[GatewayConfig], None] | None = None,
    ) -> ConfigChange:
        """Validate `base` (default: the running config) with `changes`, save it, apply the live
        fields. Raises ConfigChangeRefused (nothing changed) or what `save` raises (nothing
        applied)."""
        with self._lock:
            start = base if base is not None else self.running
            data = start.model_dump(mode="json")
            for path in changes:
                _parent(start, path)  # refuses an unknown key before anything else
                *parents, name = path.split(".")
                node = data
                for part in parents:
                    node = node[part]
                node[name] = changes[path]
            try:
                config = GatewayConfig.model_validate(data)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ConfigChangeRefused(f"{where}: {first['msg']}") from error
            if save is not None:
                save(config)
            fields: dict[str, Applied] = {}
            for path in changes:
                if path not in LIVE_FIELDS:
                    fields[path] = Applied.RESTART
                    continue
                value = read_setting(config, path)
                setattr(*_parent(self.running, path), value)
                if path in self._appliers:
                    self._appliers[path](value)
                fields[path] = Applied.LIVE
            return ConfigChange(config, fields)
