"""Cold start: wall time from launching a fresh Python process to a built pipeline.

The child imports the gateway, loads the same config the benchmark uses (models.dir passed through
MENWEI__MODELS__DIR) and builds the pipeline, then prints one line; the parent measures from just
before the launch to that line, so interpreter start-up and every import are included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from gateway.config import load_config\n"
    "from gateway.vision.factory import load_pipeline\n"
    "config = load_config(Path(sys.argv[1]) if sys.argv[1] else None)\n"
    "load_pipeline(config)\n"
    "print('ready', flush=True)\n"
)


class ColdStartError(RuntimeError):
    """The child process failed to build the pipeline."""


def cold_start_seconds(config_path: Path | None, models_dir: Path) -> float:
    """Seconds from launching a subprocess until it has built the pipeline."""
    env = dict(os.environ, MENWEI__MODELS__DIR=str(models_dir.resolve()))
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(config_path) if config_path else ""],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0 or "ready" not in completed.stdout:
        raise ColdStartError(
            f"cold-start child failed ({completed.returncode}): {completed.stderr.strip()[-500:]}"
        )
    return elapsed
