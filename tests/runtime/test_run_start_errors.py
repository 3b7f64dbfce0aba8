"""`menwei run` refuses to start on an operator's mistake with one clear line, not a traceback.

Each case runs the real command in its own process, as systemd would, and checks the exit code,
that stderr names the problem, and that no Python traceback reaches the operator.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENWEI_")}
    return subprocess.run(
        [sys.executable, "-m", "menwei.main", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _config(tmp_path: Path, *, models_dir: Path, with_key: bool) -> Path:
    key_line = ""
    if with_key:
        key = tmp_path / "template.key"
        key.write_text(secrets.token_hex(32))
        key_line = f'key_file = "{key}"\n'
    config = tmp_path / "menwei.toml"
    config.write_text(
        f'[models]\ndir = "{models_dir}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "menwei.db"}"\n{key_line}'
        f'backup_dir = "{tmp_path / "backups"}"\n'
        '[door]\nbackend = "sim"\n'
        "[provisioning]\nenabled = false\n"
    )
    return config


@pytest.mark.parametrize(
    ("with_key", "expected"),
    [
        (True, "model file missing"),
        (False, "no template key configured"),
    ],
)
def test_start_failure_is_one_line(tmp_path: Path, with_key: bool, expected: str) -> None:
    config = _config(tmp_path, models_dir=tmp_path / "no-models-here", with_key=with_key)
    done = _run(config)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"menwei: cannot start: {expected}" in done.stderr
