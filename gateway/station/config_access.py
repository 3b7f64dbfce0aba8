"""get_config / set_config over the running config: the documented safe subset only.

`ModelConfigAccess(root)` reads dotted keys (e.g. "door.unlock_ms") of the running config and
changes them through the application layer's one `ConfigChanges.apply`: the whole config is
validated with the change first, so a value that fails (field bounds or a model validator)
changes nothing; then the live fields are set on the running object, which the running parts hold
by reference. Every settable key is a live one. Changes from the station are in memory only: they
last until restart (the TOML file stays the operator's record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.application.config_apply import (
    Applier,
    ConfigChangeRefused,
    ConfigChanges,
    read_setting,
)
from gateway.config.model import GatewayConfig
from gateway.station.commands import SETTABLE_CONFIG_KEYS


class ModelConfigAccess:
    """The StationCallbacks.config implementation over the running GatewayConfig."""

    def __init__(
        self,
        root: GatewayConfig,
        keys: Iterable[str] = SETTABLE_CONFIG_KEYS,
        appliers: Mapping[str, Applier] | None = None,
        changes: ConfigChanges | None = None,
    ) -> None:
        """`changes`: the gateway's one ConfigChanges (the staff page shares it); without it,
        one over `root` with `appliers`."""
        self.root = root
        self.keys = sorted(keys)
        self.changes = changes or ConfigChanges(root, appliers)

    def view(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in self.keys:
            try:
                values[key] = read_setting(self.root, key)
            except ConfigChangeRefused:
                continue  # a key this config does not have
        return values

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(self.keys))
        if unknown:
            raise ValueError(f"not settable: {', '.join(unknown)}")
        applied = self.changes.apply(changes)
        if applied.needs_restart:  # a settable key that is not live: a bug in the key list
            raise ValueError(f"needs a restart, not settable at run time: {applied.needs_restart}")
        return self.view()
