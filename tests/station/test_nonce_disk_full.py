"""The nonce cache on a full disk (issue 12.5): the real error is reported, not hidden.

A full disk is simulated in a child process with RLIMIT_FSIZE (SIGXFSZ ignored, so a write past
the limit fails like ENOSPC does). SQLite rolls the transaction back itself after such an I/O
error; the old failure path then ran ROLLBACK again and raised "cannot rollback - no transaction
is active", hiding the cause. The cache must also work again once space is back, without a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.station.conftest import REPO


def test_a_full_disk_reports_the_real_error_and_recovers(tmp_path: Path) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "tests.station.nonce_full_proc", str(tmp_path), str(64 * 1024)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(answer.stdout.strip().splitlines()[-1])
    error = str(report["error"])
    assert error.startswith("OperationalError"), report
    assert "no transaction is active" not in error, report
    assert "disk I/O error" in error or "full" in error, report
    assert report["after"] == "fresh", report
