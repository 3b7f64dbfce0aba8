"""The throwaway store every service benchmark runs on: SQLite in the bench's own folder and a
template key made by the store's own `generate_key_file` (owner-only, like a real install)."""

from __future__ import annotations

from pathlib import Path

from gateway.store.crypto import generate_key_file


def scratch_store(workdir: Path) -> dict[str, str]:
    """The `[store]` table for a bench service in `workdir` (its key made once, then reused)."""
    key = workdir / "template.key"
    if not key.exists():
        generate_key_file(key)
    return {
        "url": f"sqlite:///{workdir / 'bench.db'}",
        "key_file": str(key),
        "backup_dir": str(workdir / "backups"),
    }
