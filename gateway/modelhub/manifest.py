"""The model manifest (gateway/models/manifest.toml) as typed, frozen records: models,
licences, packs.

Parsing is strict: an unknown role, a malformed hash or a pack naming a missing model is a
`ManifestError` at load time, never a surprise at start-up.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

import gateway

Role = Literal["detector", "embedder", "liveness"]
SourceKind = Literal["official", "npm", "export", "bundled", "derived"]
ROLES: tuple[Role, ...] = ("detector", "embedder", "liveness")
SOURCE_KINDS: tuple[SourceKind, ...] = ("official", "npm", "export", "bundled", "derived")
# none: whole frame; similarity_5pt: cv2.estimateAffinePartial2D(LMEDS) of the 5 landmarks onto
# `template`; arcface_norm_crop: Umeyama least squares onto `template` (insightface norm_crop,
# cv2.FaceRecognizerSF.alignCrop); minivision_crop: face box scaled by `crop_scale`, clipped.
TEMPLATE_ALIGNMENTS = ("similarity_5pt", "arcface_norm_crop")
ALIGNMENTS = ("none", *TEMPLATE_ALIGNMENTS, "minivision_crop")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INTEGRITY = re.compile(r"^sha512-[A-Za-z0-9+/]{86}==$")


def default_manifest_path() -> Path:
    """gateway/models/manifest.toml: package data, so an installed wheel carries it."""
    return Path(gateway.__file__).resolve().parent / "models" / "manifest.toml"


def bundled_models_dir() -> Path:
    """gateway/models/bundled/: the model files of source kind `bundled`, shipped in the wheel."""
    return Path(gateway.__file__).resolve().parent / "models" / "bundled"


class ManifestError(ValueError):
    """The manifest is malformed or inconsistent; the message names the key."""


@dataclass(frozen=True)
class Preprocess:
    """How to turn a frame (or a face) into the model's input, and what comes out."""

    input_size: tuple[int, int]  # (w, h)
    color_order: Literal["RGB", "BGR"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    alignment: str  # one of ALIGNMENTS
    template: tuple[tuple[float, float], ...] | None
    crop_scale: float | None
    output_size: int
    dynamic_input: bool = False


@dataclass(frozen=True)
class Thresholds:
    """Cosine decision thresholds of an embedder; None = not calibrated yet (fail closed)."""

    similarity_threshold: float | None
    watchlist_threshold: float | None
    # Stricter resident threshold while the gallery holds few other identities (the margin test
    # then has little to compare against); None = no separate value (the resident one applies).
    small_gallery_threshold: float | None = None
    # Score two frames need with each other to be fused into one visit; None = the resident
    # threshold. Calibrated so that visits of any strangers' frames agreeing at it gain nothing.
    fusion_agreement: float | None = None

    @property
    def calibrated(self) -> bool:
        return self.similarity_threshold is not None and self.watchlist_threshold is not None


@dataclass(frozen=True)
class Source:
    """How a site obtains the bytes: official download, npm conversion, offline export, or a copy
    shipped inside the package (`bundled`, rebuilt from `url` by `converter` when one is named)."""

    kind: SourceKind
    note: str = ""
    package: str | None = None  # npm
    version: str | None = None  # npm
    integrity: str | None = None  # npm dist.integrity of the tarball
    files: tuple[tuple[str, str], ...] = ()  # (path inside the package, sha256)
    converter: str | None = None
    built_sha256: str | None = None  # sha256 of the ONNX the converter builds
    upstream_sha256: str | None = None  # export/bundled: hash of the upstream weights file
    mirror_sha256: str | None = None  # an earlier build of the same weights that mirrors carry
    base: str | None = None  # derived: the model id whose verified file the converter rewrites


@dataclass(frozen=True)
class ModelEntry:
    """One model file: pinned bytes, licence, provenance, role and preprocessing."""

    id: str
    file: str
    sha256: str
    size: int
    licence: str
    url: str
    role: Role
    preprocess: Preprocess
    source: Source
    thresholds: Thresholds | None
    derived_from: ModelEntry | None = None  # `derived` source: the verified model it is built from

    @property
    def accepted_sha256(self) -> tuple[str, ...]:
        """Hashes resolve_pack accepts: the pinned file, the converter's build and the mirror's
        earlier build, if any (each proven equivalent by tests/modelhub)."""
        extra = (self.source.built_sha256, self.source.mirror_sha256)
        return tuple(dict.fromkeys(h for h in (self.sha256, *extra) if h is not None))


@dataclass(frozen=True)
class Licence:
    """A licence id used by models; `commercial` False means a pack needs explicit acceptance."""

    id: str
    name: str
    commercial: bool


@dataclass(frozen=True)
class Pack:
    """A set of models run together."""

    name: str
    description: str
    detector: ModelEntry
    embedder: ModelEntry
    liveness: tuple[ModelEntry, ...]

    @property
    def models(self) -> tuple[ModelEntry, ...]:
        return (self.detector, self.embedder, *self.liveness)


@dataclass(frozen=True)
class Manifest:
    """The whole manifest; look packs up with `pack(name)`."""

    path: Path
    models: Mapping[str, ModelEntry]
    licences: Mapping[str, Licence]
    packs: Mapping[str, Pack]

    def pack(self, name: str) -> Pack:
        try:
            return self.packs[name]
        except KeyError:
            known = ", ".join(sorted(self.packs))
            raise ManifestError(f"no pack {name!r} in {self.path} (packs: {known})") from None

    def model(self, model_id: str) -> ModelEntry:
        try:
            return self.models[model_id]
        except KeyError:
            raise ManifestError(f"no model {model_id!r} in {self.path}") from None


def load_manifest(path: Path | None = None) -> Manifest:
    """Parse and cross-check a manifest (default: the one shipped with menwei)."""
    path = default_manifest_path() if path is None else path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ManifestError(f"cannot read manifest {path}: {error}") from error
    if data.get("schema") != 1:
        raise ManifestError(f"{path}: unsupported schema {data.get('schema')!r} (expected 1)")
    licences = {
        key: Licence(key, str(value.get("name", key)), bool(_req(value, "commercial", key)))
        for key, value in _table(data, "licences").items()
    }
    models = {key: _model(key, value, licences) for key, value in _table(data, "models").items()}
    for key, entry in models.items():
        base = entry.source.base
        if entry.source.kind != "derived":
            continue
        if base is None or base == key or base not in models:
            raise ManifestError(f"models.{key}.source.base: {base!r} is not another model")
        if models[base].source.kind == "derived":
            raise ManifestError(f"models.{key}.source.base: {base!r} is itself derived")
        models[key] = replace(entry, derived_from=models[base])
    packs = {key: _pack(key, value, models) for key, value in _table(data, "packs").items()}
    return Manifest(path=path, models=models, licences=licences, packs=packs)


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict) or not value:
        raise ManifestError(f"manifest needs a non-empty [{key}] table")
    return value


def _req(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ManifestError(f"{where}: missing key {key!r}")
    return table[key]


def _sha(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ManifestError(f"{where}: not a lowercase hex sha256: {value!r}")
    return value


def _model(model_id: str, table: Mapping[str, Any], licences: Mapping[str, Licence]) -> ModelEntry:
    where = f"models.{model_id}"
    role = _req(table, "role", where)
    if role not in ROLES:
        raise ManifestError(f"{where}.role: {role!r} is not one of {ROLES}")
    licence = _req(table, "licence", where)
    if licence not in licences:
        raise ManifestError(f"{where}.licence: {licence!r} is not in [licences]")
    file = str(_req(table, "file", where))
    if Path(file).name != file:
        raise ManifestError(f"{where}.file: must be a bare file name, got {file!r}")
    size = _req(table, "size", where)
    if not isinstance(size, int) or size <= 0:
        raise ManifestError(f"{where}.size: must be a positive integer")
    thresholds = None
    if role == "embedder":
        thresholds = _thresholds(_req(table, "thresholds", where), where + ".thresholds")
    return ModelEntry(
        id=model_id,
        file=file,
        sha256=_sha(_req(table, "sha256", where), where + ".sha256"),
        size=size,
        licence=licence,
        url=str(_req(table, "url", where)),
        role=cast(Role, role),
        preprocess=_preprocess(_req(table, "preprocess", where), where + ".preprocess"),
        source=_source(_req(table, "source", where), where + ".source"),
        thresholds=thresholds,
    )


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ManifestError(f"{where}: expected [x, y]")
    return float(value[0]), float(value[1])


def _triple(value: Any, where: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise ManifestError(f"{where}: expected three numbers")
    return float(value[0]), float(value[1]), float(value[2])


def _preprocess(table: Mapping[str, Any], where: str) -> Preprocess:
    width, height = _pair(_req(table, "input_size", where), where + ".input_size")
    color = _req(table, "color_order", where)
    if color not in ("RGB", "BGR"):
        raise ManifestError(f"{where}.color_order: {color!r} is not RGB or BGR")
    template_raw = table.get("template")
    template = None
    if template_raw is not None:
        template = tuple(_pair(point, f"{where}.template") for point in template_raw)
    alignment = str(_req(table, "alignment", where))
    if alignment not in ALIGNMENTS:
        raise ManifestError(f"{where}.alignment: {alignment!r} is not one of {ALIGNMENTS}")
    if alignment in TEMPLATE_ALIGNMENTS and not template:
        raise ManifestError(f"{where}: alignment {alignment} needs a template")
    crop_scale = table.get("crop_scale")
    if alignment == "minivision_crop" and crop_scale is None:
        raise ManifestError(f"{where}: alignment minivision_crop needs crop_scale")
    return Preprocess(
        input_size=(int(width), int(height)),
        color_order=color,
        mean=_triple(_req(table, "mean", where), where + ".mean"),
        std=_triple(_req(table, "std", where), where + ".std"),
        alignment=alignment,
        template=template,
        crop_scale=None if crop_scale is None else float(crop_scale),
        output_size=int(_req(table, "output_size", where)),
        dynamic_input=bool(table.get("dynamic_input", False)),
    )


def _thresholds(table: Mapping[str, Any], where: str) -> Thresholds:
    def value(key: str, required: bool = True) -> float | None:
        if not required and key not in table:
            return None
        raw = float(_req(table, key, where))
        if math.isnan(raw):
            return None
        if not -1.0 <= raw <= 1.0:
            raise ManifestError(f"{where}.{key}: cosine threshold {raw} outside [-1, 1]")
        return raw

    return Thresholds(
        value("similarity_threshold"),
        value("watchlist_threshold"),
        value("small_gallery_threshold", required=False),
        value("fusion_agreement", required=False),
    )


def _source(table: Mapping[str, Any], where: str) -> Source:
    kind = _req(table, "kind", where)
    if kind not in SOURCE_KINDS:
        raise ManifestError(f"{where}.kind: {kind!r} is not one of {SOURCE_KINDS}")
    files = tuple(
        (str(name), _sha(digest, f"{where}.files.{name}"))
        for name, digest in table.get("files", {}).items()
    )
    source = Source(
        kind=cast(SourceKind, kind),
        note=str(table.get("note", "")),
        package=table.get("package"),
        version=table.get("version"),
        integrity=table.get("integrity"),
        files=files,
        converter=table.get("converter"),
        built_sha256=table.get("built_sha256"),
        upstream_sha256=table.get("upstream_sha256"),
        mirror_sha256=table.get("mirror_sha256"),
        base=table.get("base"),
    )
    for key in ("built_sha256", "upstream_sha256", "mirror_sha256"):
        if key in table:
            _sha(table[key], f"{where}.{key}")
    if kind == "bundled" and source.converter is not None:
        # the official download is weights to convert: pin them, or --upstream cannot check them
        _sha(_req(table, "upstream_sha256", where), where + ".upstream_sha256")
    if kind == "derived":
        # built locally from another manifest model's verified bytes; `sha256` pins the result
        for key in ("base", "converter"):
            _req(table, key, where)
    if kind == "npm":
        for key in ("package", "version", "integrity", "converter", "built_sha256"):
            _req(table, key, where)
        if not _INTEGRITY.match(str(source.integrity)):
            raise ManifestError(f"{where}.integrity: not an npm sha512 integrity string")
        _sha(source.built_sha256, where + ".built_sha256")
        if not files:
            raise ManifestError(f"{where}.files: an npm source must pin the files it uses")
    return source


def _pack(name: str, table: Mapping[str, Any], models: Mapping[str, ModelEntry]) -> Pack:
    where = f"packs.{name}"

    def entry(model_id: Any, role: Role) -> ModelEntry:
        model = models.get(str(model_id))
        if model is None:
            raise ManifestError(f"{where}: unknown model {model_id!r}")
        if model.role != role:
            raise ManifestError(f"{where}: {model_id} is a {model.role}, not a {role}")
        return model

    liveness = _req(table, "liveness", where)
    if not isinstance(liveness, list):
        raise ManifestError(f"{where}.liveness: expected a list of model ids")
    return Pack(
        name=name,
        description=str(table.get("description", "")),
        detector=entry(_req(table, "detector", where), "detector"),
        embedder=entry(_req(table, "embedder", where), "embedder"),
        liveness=tuple(entry(model_id, "liveness") for model_id in liveness),
    )
