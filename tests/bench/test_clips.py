"""`menwei bench-access --clips`: per pass, first detectable face -> grant commit -> relay, timed
on the camera's pacing clock; a replay is never granted; clips nobody can pass say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway.bench import clips
from gateway.bench.cli import previous_wiring
from gateway.bench.clip_replay import versus_previous
from gateway.config import parse_config
from gateway.vision.factory import load_pipeline
from tests.runtime.conftest import DEFAULT_PACK_SITE_MATCH


def _clip(frames: int, fps: float, tmp_path: Path, *, expect: bool = True) -> clips.Clip:
    blank = np.zeros((8, 8, 3), np.uint8)
    return clips.Clip("synthetic", [blank] * frames, fps, tmp_path, expect_grant=expect)


def test_latencies_are_measured_from_the_first_face_frame_on_the_pacing_clock(
    tmp_path: Path,
) -> None:
    clip = _clip(10, 10.0, tmp_path)  # a pass = 10 clip frames + GAP_FRAMES empty ones
    spans = [(1, 22), (23, 44)]
    # the loop took frames 1, 5, 30 at t0 = 100 s on a 10 fps clock (one of them read late)
    seen = [(1, 100.0), (5, 100.4), (30, 102.95)]
    # face from clip frame 2: pass 1 at 100.2 s, pass 2 at 102.4 s
    commits, released = [100.5, 102.7], [100.52, 102.75]
    row = clips._per_pass(clip, spans, 2, seen, commits, released, dropped=3)
    assert row["granted_passes"] == 2 and row["face_grants_total"] == 2
    assert row["face_to_commit_ms"]["n"] == 2
    assert row["face_to_commit_ms"]["p50"] == pytest.approx(300.0, abs=1.0)
    assert row["face_to_relay_ms"]["p50"] == pytest.approx(335.0, abs=1.0)
    assert row["face_to_relay_ms"]["p95"] >= row["face_to_commit_ms"]["p95"]
    # no grant in the second pass: only one latency, and it is the first pass's
    row = clips._per_pass(clip, spans, 2, seen, commits[:1], released[:1], dropped=0)
    assert row["granted_passes"] == 1 and row["face_to_commit_ms"]["n"] == 1
    # no detectable face in the clip: nothing to time
    row = clips._per_pass(clip, spans, None, seen, commits, released, dropped=0)
    assert row["granted_passes"] == 0 and row["face_to_commit_ms"]["p50"] is None


@pytest.mark.shared
@pytest.mark.slow
def test_demo_clip_is_timed_to_the_relay_and_the_replay_never_opens(
    models_mirror: Path, faces_dir: Path, tmp_path: Path
) -> None:
    # the default pack grants nobody by face (threshold 1.000): timed as a site that set 0.994
    base = {"models": {"dir": str(models_mirror)}, "vision": {"match": DEFAULT_PACK_SITE_MATCH}}
    config = parse_config({**base, "provisioning": {"enabled": False}}, environ={})
    demo = clips.demo_clip(config, tmp_path / "prepare")
    # the first 3 s (one face): enough for a grant, and cheap
    demo = clips.Clip(demo.name, demo.frames[:30], demo.fps, demo.enrol_dir)
    row = clips.play(demo, 1, tmp_path / "demo", base)
    assert row["first_face_frame"] == 0 and row["granted_passes"] == 1
    assert 0 < row["face_to_commit_ms"]["p50"] <= row["face_to_relay_ms"]["p50"]
    pipeline, models = load_pipeline(config)
    # the same clip replayed through both wirings on the virtual camera clock: both grant
    pipelines = {"current": pipeline, "previous": previous_wiring(models, config)}
    versus = versus_previous(demo, pipelines, models, config, 2)
    assert versus["current"]["granted"] == versus["previous"]["granted"] == 2
    assert versus["ratio_p50"] > 0
    prepared = clips.shared_clips(faces_dir, pipeline.analyse, tmp_path / "shared")
    replay = next(clip for clip in prepared if not clip.expect_grant)
    replay = clips.Clip(replay.name, replay.frames[:40], replay.fps, replay.enrol_dir, False)
    row = clips.play(replay, 1, tmp_path / "replay", base)
    assert row["face_grants_total"] == 0 and row["first_face_frame"] is not None
    walking = next(clip for clip in prepared if clip.name == "walking")
    assert "no face passes the quality gate" in clips.play(walking, 1, tmp_path, base)["not_played"]
