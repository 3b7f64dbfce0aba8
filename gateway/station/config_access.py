"""get_config / set_config over the running pydantic config: the documented safe subset only.

`ModelConfigAccess(root)` reads and writes dotted keys (e.g. "door.unlock_ms") of a config object
whose models validate on assignment. An update is first applied to a deep copy, so a value that
fails validation (field bounds or a model validator) changes nothing; then it is applied to the
live object, which the running components hold by reference. A key that nothing re-reads (the
log level) is given an applier, called with the new value once it is in the live object.
Changes are in memory only: they last until restart (the TOML file stays the operator's record).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.station.commands import SETTABLE_CONFIG_KEYS


def _parent(root: BaseModel, dotted: str) -> tuple[BaseModel, str]:
    *path, leaf = dotted.split(".")
    node: Any = root
    for part in path:
        node = getattr(node, part)
    if not isinstance(node, BaseModel) or leaf not in type(node).model_fields:
        raise KeyError(dotted)
    return node, leaf


class ModelConfigAccess:
    """The StationCallbacks.config implementation for a GatewayConfig-like object."""

    def __init__(
        self,
        root: BaseModel,
        keys: Iterable[str] = SETTABLE_CONFIG_KEYS,
        appliers: Mapping[str, Callable[[Any], None]] | None = None,
    ) -> None:
        self.root = root
        self.keys = sorted(keys)
        self.appliers = dict(appliers or {})
        self._lock = threading.Lock()

    def view(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key in self.keys:
            try:
                parent, leaf = _parent(self.root, key)
            except (AttributeError, KeyError):
                continue  # a key this config does not have
            values[key] = getattr(parent, leaf)
        return values

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(self.keys))
        if unknown:
            raise ValueError(f"not settable: {', '.join(unknown)}")
        with self._lock:
            trial = self.root.model_copy(deep=True)
            try:
                for key, value in changes.items():
                    setattr(*_parent(trial, key), value)
                for key, value in changes.items():
                    setattr(*_parent(self.root, key), value)
                for key in changes:
                    if key in self.appliers:
                        self.appliers[key](getattr(*_parent(self.root, key)))
            except (AttributeError, KeyError) as error:
                raise ValueError(f"no such setting: {error}") from error
            except ValidationError as error:
                raise ValueError(
                    str(error).splitlines()[0] + ": " + str(error.errors()[0]["msg"])
                ) from error
        return self.view()
