"""A bounded soak of the whole runtime: looping camera, real models, store, sim door, local broker.

Over about a minute of continuous decisions the process must not grow beyond a stated memory
bound, must not leak file descriptors, and decisions must keep their latency (late frames no
slower than early ones, within a generous factor for a shared CI machine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.vision.pipeline import FacePipeline
from tests.runtime.conftest import (
    LIVE,
    Running,
    copy_frames,
    enrol,
    make_config,
    resident_frames,
)
from tests.station.broker import GATEWAY, SITE, MosquittoBroker
from tests.station.conftest import gateway_config

pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("MENWEI_SOAK_SECONDS", "60"))
RSS_GROWTH_LIMIT_MIB = 60.0  # after warm-up: galleries, models and buffers are all allocated
FD_GROWTH_LIMIT = 8


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_soak_memory_fds_and_latency_stay_bounded(
    tmp_path: Path,
    faces_dir: Path,
    models_mirror: Path,
    e2e_pipeline: FacePipeline,
    broker: MosquittoBroker,
    run_service: Callable[..., Running],
) -> None:
    camera = copy_frames(faces_dir, LIVE, "lestari15__real_*.jpg", tmp_path / "cam", skip=1)
    copy_frames(faces_dir, "antispoof/nuaa_raw/live", "000[1-3]_*.jpg", camera)
    link = gateway_config(broker, tmp_path / "link", Ed25519PrivateKey.generate())
    config = make_config(
        tmp_path,
        models_mirror,
        camera,
        camera={"loop": True, "folder_fps": 10.0},
        station=link.model_dump(mode="json"),
        site={"id": SITE, "gateway_id": GATEWAY},
    )
    photo = resident_frames(faces_dir)[0]
    enrol(config, e2e_pipeline, photo, external_id="lestari")
    running = run_service(config)
    loop = running.service.vision_loop
    assert loop is not None
    running.wait_for(lambda: loop.stats.frames >= 30, timeout=60)  # warm-up
    rss_start, fds_start = _rss_mib(), _fds()
    early = list(loop.stats.latency_ms)
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < deadline:
        time.sleep(5)
        samples.append((_rss_mib(), _fds()))
        assert running.service.alive()
    late = list(loop.stats.latency_ms)[-len(early) :]
    growth = max(rss for rss, _ in samples) - rss_start
    fd_growth = max(fds for _, fds in samples) - fds_start
    print(
        f"soak {SOAK_SECONDS:.0f} s: frames {loop.stats.frames}, rss start {rss_start:.0f} MiB, "
        f"growth {growth:.1f} MiB, fds {fds_start} (+{fd_growth}), decisions "
        f"{len(running.decisions)}, latency p50 early {np.median(early):.1f} / late "
        f"{np.median(late):.1f} ms"
    )
    assert loop.stats.frames > 30 + SOAK_SECONDS  # kept deciding the whole time
    assert any(d.granted for d in running.decisions)
    assert growth < RSS_GROWTH_LIMIT_MIB
    assert fd_growth <= FD_GROWTH_LIMIT
    assert np.median(late) < 3 * np.median(early) + 20
