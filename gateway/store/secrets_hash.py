"""Hashes for short secrets: argon2id for PINs, HMAC-SHA256 for visitor codes.

PINs belong to one known person, so they are checked against one stored hash: argon2id's cost is
paid once per attempt. Visitor codes are typed at the keypad with no identity, so the code itself
must find its row among thousands: a salted hash (argon2) would force one argon2 run per stored
code per key press. HMAC-SHA256 keyed with a per-site secret is deterministic, so the code is an
indexed equality lookup; the secret is derived from the master key (not stored in the database),
so a copied database alone does not let anyone brute-force the short codes.
"""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.store.crypto import TemplateCipher

PIN_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # OWASP argon2id


def hash_pin(pin: str) -> str:
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise ValueError("a PIN is 4 to 12 digits")
    return PIN_HASHER.hash(pin)


def verify_pin(pin_hash: str, pin: str) -> bool:
    try:
        return PIN_HASHER.verify(pin_hash, pin)
    except (VerificationError, InvalidHashError):
        return False


class CodeHasher:
    """HMAC-SHA256 of visitor codes with a secret derived per site from the master key."""

    def __init__(self, cipher: TemplateCipher) -> None:
        self._cipher = cipher

    def hash(self, site_code: str, code: str) -> str:
        secret = self._cipher.derive(f"visitor-code/{site_code}")
        return hmac.new(secret, code.encode(), hashlib.sha256).hexdigest()
