"""Child process for the full-disk nonce test: claims nonces under a small RLIMIT_FSIZE.

python -m tests.station.nonce_full_proc FOLDER LIMIT_BYTES
Prints one JSON line: the error type and message the first failing claim raised, and whether
claims work again once the limit is lifted (the same connection, no restart).
"""

from __future__ import annotations

import json
import resource
import secrets
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.station.nonces import NonceCache


def main() -> int:
    folder, limit = Path(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    cache = NonceCache(folder / "nonces.db", 1_000_000, timedelta(seconds=30))
    now = datetime.now(UTC)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    report: dict[str, object] = {"claimed": 0}
    try:
        for index in range(100_000):
            cache.claim(secrets.token_hex(32), f"id-{index}", now + timedelta(seconds=60), now)
            report["claimed"] = index + 1
    except Exception as error:
        report["error"] = f"{type(error).__name__}: {error}"
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    try:
        outcome = cache.claim(secrets.token_hex(32), "after", now + timedelta(seconds=60), now)
        report["after"] = outcome.status
    except Exception as error:
        report["after"] = f"{type(error).__name__}: {error}"
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
