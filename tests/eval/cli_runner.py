"""Run `menwei ...` in-process with the shared model mirror and capture its JSON output; the
identities subset the `eval identify` CLI tests run on."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from menwei.main import main


def run_cli(args: list[str], models_dir: Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `menwei <args>` with models.dir set to `models_dir`."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MENWEI__MODELS__DIR", str(models_dir))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(args)
    return code, stdout.getvalue(), stderr.getvalue()


def run_json(args: list[str], models_dir: Path) -> dict[str, Any]:
    """The JSON object `menwei <args> --json` prints; fails the test on a non-zero exit."""
    code, out, err = run_cli([*args, "--json"], models_dir)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def write_identities_subset(faces_dir: Path, dest: Path, people: int) -> Path:
    """An identities CSV at `dest` holding the shared LFW rows of the first `people` labels."""
    with (faces_dir / "lfw" / "identities.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keep = set(sorted({row["label"] for row in rows})[:people])
    with dest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label"])
        writer.writeheader()
        writer.writerows(
            {"path": r["path"], "label": r["label"]} for r in rows if r["label"] in keep
        )
    return dest
