"""Cold start: wall time from launching a fresh Python process to a built pipeline.

The child imports the gateway, loads the same config the benchmark uses (models.dir passed through
MENWEI__MODELS__DIR) and builds the pipeline, then prints one line with its own phase times; the
parent measures from just before the launch to the child's exit, so interpreter start-up and every
import are included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CHILD = (
    "import time\n"
    "began = time.perf_counter()\n"
    "import sys\n"
    "from pathlib import Path\n"
    "from gateway.config import load_config\n"
    "from gateway.vision.factory import load_pipeline\n"
    "imported = time.perf_counter()\n"
    "config = load_config(Path(sys.argv[1]) if sys.argv[1] else None)\n"
    "load_pipeline(config)\n"
    "built = time.perf_counter()\n"
    "print('ready', imported - began, built - imported, flush=True)\n"
)


class ColdStartError(RuntimeError):
    """The child process failed to build the pipeline."""


@dataclass(frozen=True)
class ColdStart:
    """Seconds: the whole launch-to-ready time, and the child's import and build phases."""

    total: float
    imports: float
    build: float

    @property
    def interpreter(self) -> float:
        """What is left: interpreter start-up and process teardown."""
        return max(self.total - self.imports - self.build, 0.0)


def cold_start(config_path: Path | None, models_dir: Path) -> ColdStart:
    """Launch a subprocess that builds the pipeline and time it."""
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
    fields = completed.stdout.split()
    if completed.returncode != 0 or len(fields) != 3 or fields[0] != "ready":
        raise ColdStartError(
            f"cold-start child failed ({completed.returncode}): {completed.stderr.strip()[-500:]}"
        )
    return ColdStart(elapsed, float(fields[1]), float(fields[2]))
