"""The configuration schema: one pydantic model per TOML table, every field documented and bounded.

Validation here is pure: no file, network or device is touched. Checks that need the outside world
(does the camera answer, is the model file there) belong to `menwei doctor` and to start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridge.config import DoorConfig
from gateway.config.access import AccessConfig
from gateway.config.camera import CameraConfig
from gateway.config.ops import OpsConfig
from gateway.config.staff_page import ProvisioningConfig
from gateway.config.station import StationConfig
from gateway.config.store import StoreConfig


class Section(BaseModel):
    """Base for every config table: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class AddressConfig(Section):
    """The site's standard Chinese address (as the station's platform registers it)."""

    province: str = Field("北京市", max_length=64, description="Province (省/直辖市).")
    city: str = Field("北京市", max_length=64, description="City (市).")
    district: str = Field("东城区", max_length=64, description="District (区/县).")
    street: str = Field("示例街道", max_length=128, description="Street office (街道).")
    community: str = Field("示例社区", max_length=128, description="Community (社区).")


class SiteConfig(Section):
    """Which building and door this gateway serves; the ids appear in every event it reports."""

    id: str = Field(
        "demo-site",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Site identifier, unique within the station (topic-safe).",
    )
    gateway_id: str = Field(
        "gw-1",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="This gateway's identifier within the site (topic-safe).",
    )
    name: str = Field("Demo building", max_length=200, description="Human-readable site name.")
    building: str = Field(
        "1", min_length=1, max_length=32, description="Building number (楼栋号) of the door."
    )
    door_code: str = Field(
        "main",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Code of the door this gateway controls, unique per site.",
    )
    timezone: str = Field(
        "Asia/Shanghai",
        min_length=3,
        max_length=64,
        description="IANA time zone for schedules and visitor-code windows.",
    )
    address: AddressConfig = Field(default_factory=AddressConfig)


class ModelsConfig(Section):
    """Which model pack to run and where its files live."""

    pack: str = Field(
        "default", min_length=1, description="Pack name from gateway/models/manifest.toml."
    )
    dir: Path = Field(
        Path("var/models"), description="Folder holding the pack's verified model files."
    )
    mirror: Path | None = Field(
        None,
        description="Local mirror folder to fetch from instead of the bundled copies "
        "and the official URLs (MENWEI_MODELS_MIRROR also sets it).",
    )
    manifest: Path | None = Field(
        None,
        description="Manifest path; default: the one shipped in the package "
        "(gateway/models/manifest.toml).",
    )
    accept_licence: list[str] = Field(
        default_factory=list,
        description="Licence ids explicitly "
        "accepted for non-default packs, e.g. ['non-commercial'].",
    )
    threads: int = Field(2, ge=1, le=16, description="onnxruntime intra-op threads per model.")


class DetectorConfig(Section):
    """YuNet face detection."""

    score_threshold: Fraction = Field(0.8, description="Minimum detection score (cls*obj).")
    nms_threshold: Fraction = Field(0.3, description="IoU above which overlapping boxes merge.")
    input_max_side: int = Field(
        640,
        ge=160,
        le=1920,
        description="Frames are downscaled so the longer side is at most "
        "this (YuNet is trained for faces of ~10-300 px).",
    )
    top_k: int = Field(50, ge=1, le=1000, description="Maximum faces kept per frame.")


class QualityConfig(Section):
    """Quality gate before a face is embedded; each rejection carries its reason."""

    min_eye_distance_px: float = Field(
        24.0, ge=4.0, le=500.0, description="Minimum inter-eye distance in frame pixels."
    )
    max_yaw_deg: float = Field(35.0, ge=5.0, le=90.0, description="Maximum |yaw| from landmarks.")
    max_pitch_deg: float = Field(
        30.0, ge=5.0, le=90.0, description="Maximum |pitch| from landmarks."
    )
    min_sharpness: float = Field(
        15.0,
        ge=0.0,
        le=10000.0,
        description="Minimum variance of the Laplacian on the aligned grey face (blur gate).",
    )
    min_brightness: float = Field(
        40.0, ge=0.0, le=255.0, description="Minimum mean grey level of the aligned face."
    )
    max_brightness: float = Field(
        220.0, ge=0.0, le=255.0, description="Maximum mean grey level of the aligned face."
    )
    edge_margin_px: int = Field(
        2,
        ge=0,
        le=100,
        description="Landmarks closer than this to the frame border make the face 'at_edge'.",
    )

    @model_validator(mode="after")
    def _brightness_order(self) -> QualityConfig:
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self


class LivenessConfig(Section):
    """Presentation-attack detection (MiniFASNet V2 + V1SE fused)."""

    enabled: bool = Field(True, description="Run liveness; a face without it can never be granted.")
    threshold: Fraction = Field(
        0.35,
        description="Minimum fused 'real' score (mean of the two models' softmax). Calibrated "
        "with `menwei eval liveness` on the shared attack set: BPCER 4.3% with APCER 0% for print "
        "and screen (highest attack 0.052, lowest live 0.239); at 0.60 BPCER was 17%, and every "
        "failed live frame of a resident counts as a suspected spoof.",
    )


class MatchConfig(Section):
    """Gallery matching thresholds (cosine similarity of L2-normalised embeddings)."""

    similarity_threshold: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description="Minimum cosine "
        "similarity for a resident match; 0 means 'use the "
        "calibrated value the manifest gives for the embedder'.",
    )
    watchlist_threshold: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description="Stricter threshold for "
        "watch-list hits; 0 means the manifest's calibrated value.",
    )
    min_margin: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="Minimum gap between the best identity and the best other identity.",
    )
    small_gallery_identities: int = Field(
        20,
        ge=0,
        le=100000,
        description="While the "
        "resident gallery holds fewer other identities than "
        "this, the embedder's stricter small_gallery_threshold "
        "applies (the margin test needs competitors).",
    )
    flip_average: bool = Field(
        True,
        description="Average the embedding of the face and its "
        "mirror image (test-time augmentation).",
    )


class TrackerConfig(Section):
    """IoU tracker and the track-level K-of-N decision."""

    iou_threshold: Fraction = Field(0.3, description="Minimum IoU to continue a track.")
    max_missed_frames: int = Field(
        5, ge=0, le=100, description="Frames a track may go unseen before it ends."
    )
    window: int = Field(5, ge=1, le=50, description="N: recent frames considered per track.")
    agree: int = Field(
        3,
        ge=1,
        le=50,
        description="K: frames in the window that must agree on "
        "the same person above threshold, with liveness passed, for a grant.",
    )

    @model_validator(mode="after")
    def _k_le_n(self) -> TrackerConfig:
        if self.agree > self.window:
            raise ValueError("agree (K) cannot exceed window (N)")
        return self


class VisionConfig(Section):
    """The frame pipeline: detect, gate, align, liveness, embed, search, track, decide."""

    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    match: MatchConfig = Field(default_factory=MatchConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)


class LoggingConfig(Section):
    """Log output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    json_format: bool = Field(False, description="One JSON object per line (for the journal).")


class GatewayConfig(Section):
    """The whole gateway configuration (one TOML file)."""

    site: SiteConfig = Field(default_factory=SiteConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    vision: VisionConfig = Field(default_factory=VisionConfig)
    door: DoorConfig = Field(default_factory=DoorConfig)
    camera: CameraConfig = Field(default_factory=CameraConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    station: StationConfig = Field(default_factory=StationConfig)
    provisioning: ProvisioningConfig = Field(default_factory=ProvisioningConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
