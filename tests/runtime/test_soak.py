"""A bounded soak of the whole runtime: looping camera, real models, store, sim door, local broker.

Over about a minute of continuous decisions the process must not grow beyond a stated memory
bound, must not leak file descriptors, and decisions must keep their latency (late frames no
slower than early ones, within a generous factor for a shared CI machine).

RSS cannot see a slow leak in a minute: the stage timer's (issue 12.10) grew about 1.6 kB a second,
140 MB a day. So after a warm-up that fills every bounded buffer of the frame path, allocations
made by our own code are traced (tracemalloc) over two windows: a source line that gains more
than LEAK_BLOCKS_PER_FRAME live blocks per analysed frame in both windows is a leak (the stage
timer kept one float per stage, five a frame). Blocks, not bytes: the frames in flight when a
snapshot is taken make byte counts jump, not block counts.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.vision.pipeline import FacePipeline
from tests.runtime.conftest import (
    DEFAULT_PACK_SITE_MATCH,
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
WARM_UP_FRAMES = 150  # fills the per-stage timing windows (100 each) and the tracker's buffers
# The frame-latency window (2000) still fills during the soak: one block per frame, legitimately.
LEAK_BLOCKS_PER_FRAME = 2
REPO = Path(__file__).resolve().parents[2]
OUR_CODE = [
    tracemalloc.Filter(True, f"{REPO}/{package}/*")
    for package in ("gateway", "firmware_bridge", "provisioning")
]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _our_allocations() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces(OUR_CODE)


def _growing_lines(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, frames: int
) -> dict[str, int]:
    """Source lines that gained more live blocks than the leak bound allows for `frames`."""
    return {
        str(stat.traceback): stat.count_diff
        for stat in after.compare_to(before, "lineno")
        if stat.count_diff > LEAK_BLOCKS_PER_FRAME * max(frames, 10)
    }


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
        vision={"match": DEFAULT_PACK_SITE_MATCH},  # see tests/runtime/conftest.py
        station=link.model_dump(mode="json"),
        site={"id": SITE, "gateway_id": GATEWAY},
    )
    photo = resident_frames(faces_dir)[0]
    enrol(config, e2e_pipeline, photo, external_id="lestari")
    running = run_service(config)
    loop = running.service.vision_loop
    assert loop is not None
    running.wait_for(lambda: loop.stats.frames >= 30, timeout=60)
    early = list(loop.stats.latency_ms)
    running.wait_for(lambda: loop.stats.frames >= WARM_UP_FRAMES, timeout=240)
    rss_start, fds_start = _rss_mib(), _fds()
    samples: list[tuple[float, int]] = []
    tracemalloc.start()
    try:
        snapshots = [(_our_allocations(), loop.stats.frames)]
        for _window in range(2):
            deadline = time.monotonic() + SOAK_SECONDS / 2
            while time.monotonic() < deadline:
                time.sleep(5)
                samples.append((_rss_mib(), _fds()))
                assert running.service.alive()
            snapshots.append((_our_allocations(), loop.stats.frames))
    finally:
        tracemalloc.stop()
    (first, f0), (middle, f1), (last, f2) = snapshots
    growing = [_growing_lines(first, middle, f1 - f0), _growing_lines(middle, last, f2 - f1)]
    leaks = {line: growing[1][line] for line in growing[0].keys() & growing[1].keys()}
    print(f"frames per window {f1 - f0}, {f2 - f1}; lines over the bound {growing}")
    late = list(loop.stats.latency_ms)[-len(early) :]
    growth = max(rss for rss, _ in samples) - rss_start
    fd_growth = max(fds for _, fds in samples) - fds_start
    print(
        f"soak {SOAK_SECONDS:.0f} s: frames {loop.stats.frames}, rss start {rss_start:.0f} MiB, "
        f"growth {growth:.1f} MiB, fds {fds_start} (+{fd_growth}), decisions "
        f"{len(running.decisions)}, latency p50 early {np.median(early):.1f} / late "
        f"{np.median(late):.1f} ms"
    )
    assert not leaks, f"allocations growing with every frame (blocks per window): {leaks}"
    assert loop.stats.frames > WARM_UP_FRAMES + SOAK_SECONDS  # kept deciding the whole time
    assert any(d.granted for d in running.decisions)
    assert growth < RSS_GROWTH_LIMIT_MIB
    assert fd_growth <= FD_GROWTH_LIMIT
    assert np.median(late) < 3 * np.median(early) + 20
