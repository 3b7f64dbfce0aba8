"""The gateway's single TOML configuration: pydantic model, loader and env overrides."""

from gateway.config.loader import ConfigError, load_config, parse_config
from gateway.config.model import GatewayConfig

__all__ = ["ConfigError", "GatewayConfig", "load_config", "parse_config"]
