"""File hashing, verification against pinned sha256, and a cache of verified files.

Hashing the default pack (~26 MB) costs tens of milliseconds per start on the gateway CPU; the cache
(`.menwei-verified.json` in the model folder) lets start-up skip it while the file is provably the
one hashed before: same path, size, inode, mtime_ns and ctime_ns (ctime cannot be set back from
user space, so an in-place rewrite that restores mtime still invalidates the entry). The cache only
ever records hashes that matched the manifest; `menwei models verify` always re-hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger(__name__)
CACHE_NAME = ".menwei-verified.json"
_CHUNK = 1 << 20


class ModelFileError(Exception):
    """Base of the model file problems; `path` names the file."""

    def __init__(self, path: Path, message: str):
        self.path = path
        super().__init__(message)


class ModelMissingError(ModelFileError):
    """A model file the pack needs is not there."""

    def __init__(self, path: Path):
        super().__init__(
            path, f"model file missing: {path} (install it with `menwei models fetch`)"
        )


class ModelIntegrityError(ModelFileError):
    """A model file's bytes are not the pinned ones: refuse to load it."""

    def __init__(
        self,
        path: Path,
        expected: Sequence[str],
        actual: str,
        hint: str = "refusing to load it; delete it and run `menwei models fetch`",
    ):
        self.expected = tuple(expected)
        self.actual = actual
        super().__init__(
            path,
            f"model file {path} failed its integrity check: sha256 {actual}, expected "
            f"{' or '.join(self.expected)}; {hint}",
        )


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _accepted(sha256: str | Sequence[str]) -> tuple[str, ...]:
    return (sha256,) if isinstance(sha256, str) else tuple(sha256)


def verify_file(path: Path, sha256: str | Sequence[str]) -> str:
    """Hash `path` and check it against `sha256` (one hash or several accepted ones).

    Returns the actual hash; raises ModelMissingError or ModelIntegrityError.
    """
    accepted = _accepted(sha256)
    try:
        actual = sha256_file(path)
    except FileNotFoundError:
        raise ModelMissingError(path) from None
    if actual not in accepted:
        raise ModelIntegrityError(path, accepted, actual)
    return actual


@dataclass(frozen=True)
class FileIdentity:
    """What must be unchanged for a cached verification to still hold."""

    size: int
    inode: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        stat = path.stat()
        return cls(stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)


class VerificationCache:
    """Verified (file identity -> sha256) records kept in a JSON sidecar in the model folder."""

    def __init__(self, folder: Path):
        self.path = folder / CACHE_NAME
        self._entries = self._read()
        self._dirty = False

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def verify(self, path: Path, sha256: str | Sequence[str]) -> tuple[str, bool]:
        """Like verify_file, but skips hashing when the cache vouches for the file.

        Returns (sha256, came_from_cache).
        """
        accepted = _accepted(sha256)
        try:
            identity = FileIdentity.of(path)
        except FileNotFoundError:
            raise ModelMissingError(path) from None
        key = str(path.resolve())
        record = self._entries.get(key)
        if record is not None and record.get("sha256") in accepted:
            cached = {k: v for k, v in record.items() if k != "sha256"}
            if cached == _identity_dict(identity):
                return str(record["sha256"]), True
        actual = verify_file(path, accepted)
        # Record only if the file did not change while it was being hashed.
        if FileIdentity.of(path) == identity:
            self._entries[key] = {**_identity_dict(identity), "sha256": actual}
            self._dirty = True
        return actual, False

    def save(self) -> None:
        """Write the sidecar atomically; a read-only model folder only costs re-hashing."""
        if not self._dirty or not _writable_by_mode(self.path.parent):
            return
        tmp: Path | None = None
        try:
            fd, name = tempfile.mkstemp(prefix=CACHE_NAME, suffix=".tmp", dir=self.path.parent)
            tmp = Path(name)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._entries, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError as error:
            LOG.debug("cannot write verification cache %s: %s", self.path, error)
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def _writable_by_mode(folder: Path) -> bool:
    """False for a folder without any write bit (a read-only mirror), even when running as root,
    who could write it anyway: verifying a pack in place must not add files to a mirror."""
    try:
        return folder.stat().st_mode & 0o222 != 0
    except OSError:
        return False


def _identity_dict(identity: FileIdentity) -> dict[str, object]:
    return {
        "size": identity.size,
        "inode": identity.inode,
        "mtime_ns": identity.mtime_ns,
        "ctime_ns": identity.ctime_ns,
    }
