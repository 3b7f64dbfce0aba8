"""Read the TOML config, apply environment overrides, validate, and report errors by key path.

Environment overrides use `MENWEI__<TABLE>__<KEY>=<TOML value>`, e.g.
`MENWEI__VISION__MATCH__MIN_MARGIN=0.05` or `MENWEI__SITE__ID='"tower-3"'`. A value that is not
valid TOML is taken as a plain string, so `MENWEI__SITE__ID=tower-3` works too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.config.model import GatewayConfig

ENV_PREFIX = "MENWEI__"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where (dotted key path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """The config could not be read or did not validate; `issues` lists every problem."""

    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"invalid configuration ({source}):\n{lines}")


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict of the `MENWEI__A__B=value` variables in `environ`."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not keys:
            continue
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = _parse_env_value(raw)
    return tree


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _issues_from(error: ValidationError) -> list[ConfigIssue]:
    issues = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "<root>"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (not part of the configuration schema)"
        issues.append(ConfigIssue(path, message))
    return issues


def parse_config(
    data: Mapping[str, Any], source: str = "<data>", environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Validate a config mapping (with env overrides applied) or raise ConfigError."""
    merged = _merge(dict(data), env_overrides(environ if environ is not None else os.environ))
    try:
        return GatewayConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(source, _issues_from(error)) from None


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate a TOML file; `None` means defaults plus env overrides."""
    if path is None:
        return parse_config({}, "<defaults>", environ)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), [ConfigIssue("<file>", "file not found")]) from None
    except UnicodeDecodeError as error:
        raise ConfigError(str(path), [ConfigIssue("<file>", f"not UTF-8 text: {error}")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), [ConfigIssue("<file>", f"TOML syntax: {error}")]) from None
    return parse_config(data, str(path), environ)
