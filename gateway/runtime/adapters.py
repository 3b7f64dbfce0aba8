"""What the runtime needs from an adapter it starts beside the service (the staff page).

The runtime never imports an adapter: the composition root (`menwei.main`) passes a starter in.
That keeps the dependency one way, adapters -> gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gateway.application.app import Application
from gateway.config.staff_page import ProvisioningConfig


class RunningAdapter(Protocol):
    """A started adapter: where it listens, and how to stop it."""

    @property
    def port(self) -> int: ...

    def stop(self, timeout: float = 10.0) -> None: ...


StaffPageStarter = Callable[[Application, ProvisioningConfig, Path | None], RunningAdapter | None]


def no_staff_page(
    _app: Application, _settings: ProvisioningConfig, _config_path: Path | None
) -> RunningAdapter | None:
    """The starter when no staff page is wired (library use, tests of the core)."""
    return None
