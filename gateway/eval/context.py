"""What every eval command needs first: the config (file or defaults + env) and a built pipeline,
with set-up failures turned into one clear message instead of a traceback."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.modelhub.integrity import ModelFileError
from gateway.modelhub.manifest import ManifestError
from gateway.modelhub.resolve import LicenceNotAccepted
from gateway.vision.factory import PipelineModels, load_pipeline
from gateway.vision.pipeline import FacePipeline


class SetupError(Exception):
    """The config, the model pack or a data file is not usable; the message says how to fix it."""


@dataclass(frozen=True)
class EvalContext:
    """The loaded config, the pipeline built from it, and the pack's model description."""

    config: GatewayConfig
    pipeline: FacePipeline
    models: PipelineModels


def load_context(config_path: Path | None, pack: str | None = None) -> EvalContext:
    """Load the config (with `pack` replacing [models] pack when given) and build the pipeline,
    or raise SetupError naming the fix."""
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise SetupError(str(error)) from None
    if pack is not None:
        chosen = config.models.model_copy(update={"pack": pack})
        config = config.model_copy(update={"models": chosen})
    try:
        pipeline, models = load_pipeline(config)
    except (ModelFileError, ManifestError, LicenceNotAccepted) as error:
        raise SetupError(
            f"{error} (models.dir is {config.models.dir}; set it in the config or "
            "with MENWEI__MODELS__DIR=/path/to/models)"
        ) from None
    return EvalContext(config, pipeline, models)


def require_file(path: Path, what: str) -> Path:
    """`path` if it is a file, else SetupError."""
    if not path.is_file():
        raise SetupError(f"{what} {path} not found")
    return path


def require_dir(path: Path, what: str) -> Path:
    """`path` if it is a directory, else SetupError."""
    if not path.is_dir():
        raise SetupError(f"{what} {path} not found")
    return path


def default_faces_dir() -> Path:
    """The shared faces folder: $MENWEI_SHARED/faces, default <repo>/../shared/faces."""
    repo = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("MENWEI_SHARED", repo.parent / "shared")) / "faces"
