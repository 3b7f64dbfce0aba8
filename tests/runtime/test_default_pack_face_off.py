"""The default pack grants nobody by face (threshold 1.000, gateway/models/manifest.toml): the
runtime loads it with that threshold and says so once at start-up, naming what still works; a site
that sets its own threshold is not warned."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.runtime.recognition import load_onnx_recognition
from gateway.vision.recogniser import rule_from_config
from tests.runtime.conftest import DEFAULT_PACK_SITE_MATCH

pytestmark = pytest.mark.shared


def test_the_default_pack_loads_with_face_off_and_says_so(
    models_mirror: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config({"models": {"dir": str(models_mirror)}}, environ={})
    with caplog.at_level("WARNING", logger="gateway.runtime.recognition"):
        loaded = load_onnx_recognition(config)
    assert loaded.resident_threshold == loaded.watch_threshold == 1.0
    assert "'default' grants nobody by face" in caplog.text
    assert "cards, PINs and visitor codes work" in caplog.text


def test_a_site_threshold_turns_face_on_without_the_warning(
    models_mirror: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(
        {"models": {"dir": str(models_mirror)}, "vision": {"match": DEFAULT_PACK_SITE_MATCH}},
        environ={},
    )
    with caplog.at_level("WARNING", logger="gateway.runtime.recognition"):
        loaded = load_onnx_recognition(config)
    assert loaded.resident_threshold == pytest.approx(0.994)
    assert "grants nobody" not in caplog.text
    # the rule the door applies, small galleries included (the pack's small-gallery threshold
    # stays 1.000, so the site turns that rule off as well)
    rule = rule_from_config(
        config.vision,
        loaded.resident_threshold,
        loaded.small_gallery_threshold,
        loaded.fusion_agreement,
    )
    assert rule.threshold_for(competitors=0) == pytest.approx(0.994)
