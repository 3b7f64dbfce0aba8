"""Turn the configured pack into verified model paths, or refuse loudly: licence, presence, hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.config.model import ModelsConfig
from gateway.modelhub.integrity import VerificationCache
from gateway.modelhub.manifest import Manifest, ModelEntry, Pack, load_manifest


class LicenceNotAccepted(Exception):
    """A pack uses a licence that forbids commercial use and the config has not accepted it."""

    def __init__(self, pack: str, licence: str, licence_name: str):
        self.pack = pack
        self.licence = licence
        self.setting = f'[models] accept_licence = ["{licence}"]'
        super().__init__(
            f"model pack {pack!r} uses licence {licence!r} ({licence_name}), which is not licensed "
            f"for commercial use; to run it anyway, add to the config: {self.setting}"
        )


@dataclass(frozen=True)
class ResolvedPack:
    """A pack whose files are present and verified; `paths` maps model id -> file path."""

    pack: Pack
    paths: Mapping[str, Path]

    def path(self, entry: ModelEntry) -> Path:
        return self.paths[entry.id]

    @property
    def detector(self) -> Path:
        return self.paths[self.pack.detector.id]

    @property
    def embedder(self) -> Path:
        return self.paths[self.pack.embedder.id]

    @property
    def liveness(self) -> tuple[Path, ...]:
        return tuple(self.paths[entry.id] for entry in self.pack.liveness)


def check_licences(pack: Pack, manifest: Manifest, accepted: list[str]) -> None:
    """Raise LicenceNotAccepted for the first non-commercial licence not in `accepted`."""
    for entry in pack.models:
        licence = manifest.licences[entry.licence]
        if not licence.commercial and licence.id not in accepted:
            raise LicenceNotAccepted(pack.name, licence.id, licence.name)


def resolve_pack(config: ModelsConfig, manifest: Manifest | None = None) -> ResolvedPack:
    """Check licence acceptance and every file's sha256; return the verified paths.

    Raises ManifestError (unknown pack), LicenceNotAccepted, ModelMissingError or
    ModelIntegrityError (naming the file, the expected and the actual hash).
    """
    manifest = load_manifest(config.manifest) if manifest is None else manifest
    pack = manifest.pack(config.pack)
    check_licences(pack, manifest, config.accept_licence)
    cache = VerificationCache(config.dir)
    paths: dict[str, Path] = {}
    try:
        for entry in pack.models:
            path = config.dir / entry.file
            cache.verify(path, entry.accepted_sha256)
            paths[entry.id] = path
    finally:
        cache.save()
    return ResolvedPack(pack=pack, paths=paths)
