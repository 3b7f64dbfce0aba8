"""Writing the gateway's TOML file after a settings change: validated, atomic, with a backup.

Only values that differ from the model's defaults are written, as nested tables, so the file
stays short. Comments in the old file are not kept (the previous file is kept as `.bak`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """TOML text for nested dicts of str/int/float/bool/lists (None values are left out)."""
    lines = []
    tables = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_scalar(value)}")
    text = ""
    if lines:
        text += (f"[{prefix}]\n" if prefix else "") + "\n".join(lines) + "\n\n"
    for key, value in tables:
        text += to_toml(value, f"{prefix}.{key}" if prefix else key)
    return text


def config_saver(path: Path) -> Callable[[GatewayConfig], None]:
    """A `save_config` for ProvisioningDeps that rewrites `path` (the file `menwei run` read)."""

    def save(config: GatewayConfig) -> None:
        data = config.model_dump(mode="json", exclude_defaults=True)
        text = "# Written by the menwei staff page; see the docs for every key.\n\n" + to_toml(data)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        if load_config(temporary, environ={}) != config.model_copy():
            temporary.unlink()
            raise RuntimeError("the written configuration does not read back identically")
        if path.exists():
            os.replace(path, path.with_name(path.name + ".bak"))
        os.replace(temporary, path)

    return save
