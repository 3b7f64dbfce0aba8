"""A people delta as the station sends it, and a subprocess that dies (kill -9) half-way through
applying one: python -m tests.station.people_delta STORE_DIR DELTA_JSON KILL_AT"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from gateway.application.delta_sync import encode_vector
from gateway.application.people_sync import apply_people_delta
from tests.station.conftest import MODEL_ID, make_store

UNIT = {"building": "1", "unit_number": "1", "room_number": "101"}


def people_delta(
    count: int, version: int, name_tag: str, model_id: str = MODEL_ID
) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(version)
    return {
        "from_version": version - 1,
        "version": version,
        "upserts": [
            {
                "external_id": f"p-{index:05d}",
                "display_name": f"{name_tag} {index}",
                "role": "owner",
                "unit": UNIT,
                "valid_from": start.isoformat(),
                "valid_until": (start + timedelta(days=3650)).isoformat(),
                "active": True,
                "card": {"facility": 1, "number": index},
                "consent": {
                    "text_version": "2026-01",
                    "taken_by": "property office",
                    "taken_at": start.isoformat(),
                },
                "model_id": model_id,
                "templates": [encode_vector(rng.standard_normal(8).astype(np.float32))],
            }
            for index in range(count)
        ],
        "removes": [],
    }


def main() -> int:
    store_dir, delta_file, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store, door_id = make_store(Path(store_dir))
    delta = json.loads(Path(delta_file).read_text())

    def progress(done: int) -> None:
        if done == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    apply_people_delta(store, delta, MODEL_ID, door_id, datetime.now(UTC), progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
