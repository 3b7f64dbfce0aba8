"""Canonical JSON bytes: the exact bytes the station signs and the gateway verifies.

UTF-8, keys sorted, no insignificant whitespace, no NaN/Infinity. Both sides call `canonical_bytes`
on the `command` object of a signed envelope; the signature never covers the envelope itself.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
