"""Ed25519 keys of the station: generate, save, load, and sign a command envelope.

The private key lives only with the station tooling (PEM, PKCS#8, file mode 0600); the gateway
config holds the public key as 32 raw bytes in base64.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.station.canonical import canonical_bytes
from gateway.store.uuid7 import uuid7

COMMAND_VERSION = 1


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key(b64: str) -> Ed25519PublicKey:
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def make_command(
    *,
    name: str,
    site: str,
    gateway: str,
    args: dict[str, Any],
    issued_by: str,
    now: datetime,
    lifetime: timedelta = timedelta(seconds=60),
) -> dict[str, Any]:
    """A fresh unsigned command object (new UUIDv7 id and 128-bit nonce)."""
    return {
        "v": COMMAND_VERSION,
        "id": str(uuid7(int(now.timestamp() * 1000))),
        "name": name,
        "site": site,
        "gateway": gateway,
        "issued_by": issued_by,
        "issued_at": now.isoformat(),
        "expires_at": (now + lifetime).isoformat(),
        "nonce": secrets.token_hex(16),
        "args": args,
    }


def sign_command(key: Ed25519PrivateKey, command: dict[str, Any]) -> dict[str, Any]:
    """The envelope published on the command topic: the command and its signature."""
    signature = key.sign(canonical_bytes(command))
    return {"command": command, "signature": base64.b64encode(signature).decode("ascii")}
