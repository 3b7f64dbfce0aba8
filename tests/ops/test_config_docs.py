"""The config template validates, and docs/configuration.md matches the configuration model."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from gateway.config import load_config
from gateway.config.model import GatewayConfig
from gateway.config.ops import OpsConfig
from gateway.ops.config_reference import DOC_PATH, bounds, main, render_reference, type_name

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "systemd" / "menwei.example.toml"


def test_example_config_validates(tmp_path: Path) -> None:
    data = tomllib.loads(TEMPLATE.read_text(encoding="utf-8"))
    if "ops" in GatewayConfig.model_fields:
        config = load_config(TEMPLATE, environ={})
        ops = config.ops  # type: ignore[attr-defined]
    else:  # until the lead adds `ops` to GatewayConfig: validate it on its own
        without_ops = tmp_path / "menwei.toml"
        text = TEMPLATE.read_text(encoding="utf-8")
        without_ops.write_text(text[: text.index("[ops.metrics]")], encoding="utf-8")
        config = load_config(without_ops, environ={})
        ops = OpsConfig.model_validate(data["ops"])
    assert config.store.key_credential == "menwei-template-key"
    assert config.store.url == "sqlite:////var/lib/menwei/menwei.db"
    assert config.logging.json_format is True
    assert config.door.backend == "gpiod"
    assert ops == OpsConfig()  # the template shows the defaults


def test_configuration_reference_is_up_to_date() -> None:
    committed = DOC_PATH.read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "docs/configuration.md is out of date: run `.venv/bin/python -m "
        "gateway.ops.config_reference` and commit the result"
    )
    assert main(["--check", str(DOC_PATH)]) == 0


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0


def test_every_table_and_key_is_documented() -> None:
    text = render_reference()
    for table in ("site", "site.address", "models", "door.gpiod.door_contact", "store"):
        assert f"## `[{table}]`" in text
    for table in ("ops.metrics", "ops.retention", "ops.watchdog"):
        assert f"## `[{table}]`" in text
    assert "| `events_days` | integer | `30` | >= 1, <= 365 |" in text


class _Sample(BaseModel):
    mode: Literal["a", "b"] = "a"
    maybe: Path | None = None
    names: list[str] = Field(default_factory=list)
    count: int = Field(3, ge=1, le=9)
    code: str = Field("x", min_length=1, max_length=4, pattern=r"^[a-z|]+$")


def test_type_names_and_bounds() -> None:
    fields = _Sample.model_fields
    assert type_name(fields["mode"].annotation) == '"a" / "b"'
    assert type_name(fields["maybe"].annotation) == "path or unset"
    assert type_name(fields["names"].annotation) == "list of string"
    assert bounds(fields["count"]) == ">= 1, <= 9"
    assert bounds(fields["code"]) == "pattern `^[a-z|]+$`, length 1-4"
