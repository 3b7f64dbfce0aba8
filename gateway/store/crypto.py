"""Template encryption: the AES-256-GCM master key, per-row nonces, and associated data.

The key comes from a file (32 raw bytes or 64 hex characters) or a systemd credential
($CREDENTIALS_DIRECTORY/<name>). Each row stores the key id, a random 96-bit nonce and the
ciphertext; the associated data names the row's owner (person id or watch-list id), model id and
dimension, so a ciphertext copied into another person's row, or relabelled as another model,
fails authentication instead of decrypting. Subkeys for pseudonyms and visitor codes are derived
with HKDF so the master key itself is used for one purpose only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.config.store import StoreConfig
from gateway.store.errors import KeyUnavailable, TemplateIntegrityError

KEY_BYTES = 32
NONCE_BYTES = 12


def parse_key(raw: bytes, source: str) -> bytes:
    """32 raw bytes, or 64 hex characters (surrounding whitespace ignored)."""
    if len(raw) == KEY_BYTES:
        return raw
    stripped = raw.strip()
    if len(stripped) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(stripped.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    raise KeyUnavailable(
        f"{source} must hold a 32-byte key (raw) or 64 hex characters; it holds {len(raw)} bytes"
    )


def key_path(config: StoreConfig, environ: Mapping[str, str]) -> Path:
    if config.key_file is not None:
        return config.key_file
    if config.key_credential is not None:
        directory = environ.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise KeyUnavailable(
                f"store.key_credential = {config.key_credential!r} but CREDENTIALS_DIRECTORY is "
                "not set: run under systemd with LoadCredential= (or set store.key_file)"
            )
        return Path(directory) / config.key_credential
    raise KeyUnavailable("no template key configured: set store.key_file or store.key_credential")


def load_key(config: StoreConfig, environ: Mapping[str, str] | None = None) -> bytes:
    path = key_path(config, os.environ if environ is None else environ)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise KeyUnavailable(f"cannot read the template key {path}: {error}") from error
    return parse_key(raw, str(path))


def generate_key_file(path: Path) -> None:
    """Write a fresh random key as hex, readable by the owner only (for provisioning and tests)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")


def template_aad(kind: str, owner: str, model_id: str, dimension: int) -> bytes:
    return f"menwei/{kind}/v1|owner={owner}|model={model_id}|dim={dimension}".encode()


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class TemplateCipher:
    """Encrypts and decrypts float32 templates; also derives the pseudonym and code subkeys."""

    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) != KEY_BYTES:
            raise KeyUnavailable("AES-256-GCM needs a 32-byte key")
        self.key_id = key_id
        self._aead = AESGCM(key)
        self._master = key

    def derive(self, purpose: str) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=f"menwei/{purpose}".encode()
        ).derive(self._master)

    def seal(self, vector: npt.ArrayLike, aad: bytes) -> Sealed:
        data = np.asarray(vector, dtype="<f4").reshape(-1)
        if not np.isfinite(data).all():
            raise ValueError("template has non-finite values")
        nonce = secrets.token_bytes(NONCE_BYTES)
        return Sealed(self.key_id, nonce, self._aead.encrypt(nonce, data.tobytes(), aad))

    def open(self, sealed: Sealed, aad: bytes, dimension: int) -> npt.NDArray[np.float32]:
        if sealed.key_id != self.key_id:
            raise TemplateIntegrityError(
                f"row was encrypted with key {sealed.key_id!r}, the loaded key is {self.key_id!r}"
            )
        try:
            plain = self._aead.decrypt(sealed.nonce, sealed.ciphertext, aad)
        except InvalidTag as error:
            raise TemplateIntegrityError(
                "template failed authentication (tampered, wrong key, or moved between rows)"
            ) from error
        vector = np.frombuffer(plain, dtype="<f4").astype(np.float32)
        if vector.shape[0] != dimension:
            raise TemplateIntegrityError(f"template has {vector.shape[0]} values, not {dimension}")
        return vector


def pseudonym_for(cipher: TemplateCipher, person_id: int) -> str:
    """A stable pseudonym: the same person always maps to the same opaque string."""
    digest = hmac.new(cipher.derive("pseudonym"), str(person_id).encode(), hashlib.sha256)
    return "anon-" + digest.hexdigest()[:32]
