"""`menwei demo` (what `make demo` runs) works end to end: models installed, people enrolled, the
sample clip decided, the staff page served, a summary printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_grants_a_resident_on_the_sample_clip(tmp_path: Path, shared: Path) -> None:
    env = {
        **os.environ,
        "MENWEI_SHARED": str(shared),
        "MENWEI_MODELS_MIRROR": str(shared / "models"),
        "MENWEI__PROVISIONING__PORT": "18443",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "demo", "--once", "--seconds", "120"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "enrolled lin_manuel_miranda" in output
    assert "GRANT face" in output
    assert "staff page: https://127.0.0.1:18443/" in output
    assert "frames analysed" in output
    assert (tmp_path / "var/demo/menwei.db").exists()
