"""Model manifest, packs, fetching from official URLs or a local mirror, and hash verification.

The vision code calls `resolve_pack(config.models)` at start-up and gets verified file paths plus
each model's preprocessing spec (`ResolvedPack.pack.embedder.preprocess`, ...).
"""

from gateway.modelhub.integrity import (
    ModelFileError,
    ModelIntegrityError,
    ModelMissingError,
    sha256_file,
    verify_file,
)
from gateway.modelhub.manifest import (
    Licence,
    Manifest,
    ManifestError,
    ModelEntry,
    Pack,
    Preprocess,
    Source,
    Thresholds,
    default_manifest_path,
    load_manifest,
)
from gateway.modelhub.resolve import LicenceNotAccepted, ResolvedPack, resolve_pack

__all__ = [
    "Licence",
    "LicenceNotAccepted",
    "Manifest",
    "ManifestError",
    "ModelEntry",
    "ModelFileError",
    "ModelIntegrityError",
    "ModelMissingError",
    "Pack",
    "Preprocess",
    "ResolvedPack",
    "Source",
    "Thresholds",
    "default_manifest_path",
    "load_manifest",
    "resolve_pack",
    "sha256_file",
    "verify_file",
]
