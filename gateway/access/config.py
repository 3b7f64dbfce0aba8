"""The `[access]` config table: keypad entry, brute-force lockout and suspicious-person rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KeypadConfig(Section):
    """Visitor codes typed on the Wiegand keypad, ended by '#'."""

    min_code_length: int = Field(4, ge=4, le=12, description="Shortest code accepted for lookup.")
    max_code_length: int = Field(12, ge=4, le=32, description="Longer input is discarded.")
    entry_timeout_s: float = Field(
        10.0, ge=2.0, le=120.0, description="Digits older than this (no key pressed) are dropped."
    )
    max_failures: int = Field(
        5, ge=1, le=50, description="Wrong codes in a row before the keypad locks."
    )
    lockout_s: float = Field(
        30.0, ge=1.0, le=3600.0, description="How long the keypad stays locked."
    )
    max_keys_per_second: float = Field(
        10.0,
        ge=1.0,
        le=100.0,
        description="Faster key streams are treated as a flood: keys are dropped and counted.",
    )

    @model_validator(mode="after")
    def _lengths(self) -> KeypadConfig:
        if self.min_code_length > self.max_code_length:
            raise ValueError("min_code_length cannot exceed max_code_length")
        return self


class LoiterConfig(Section):
    """An unknown face that keeps coming back near the door without entering."""

    window_s: float = Field(
        600.0,
        ge=30.0,
        le=3600.0,
        description="How long unknown-face "
        "embeddings are kept in memory (never stored) for re-identification.",
    )
    same_person_similarity: float = Field(
        0.93,
        ge=0.5,
        le=1.0,
        description="Cosine above which two unknown faces count as the same person.",
    )
    min_visits: int = Field(
        3,
        ge=2,
        le=100,
        description="Separate tracks of the same unknown "
        "face within the window that raise the alert.",
    )
    min_dwell_s: float = Field(
        120.0,
        ge=10.0,
        le=3600.0,
        description="Or: total time the same unknown face was seen within the window.",
    )
    max_people: int = Field(
        500, ge=10, le=100000, description="Bound on remembered unknown people (oldest dropped)."
    )


class TailgateConfig(Section):
    """More people crossing than were granted."""

    window_s: float = Field(
        8.0,
        ge=1.0,
        le=60.0,
        description="After a grant, other people's "
        "faces seen within this time count as crossing on the same grant.",
    )


class AccessConfig(Section):
    """Access policy settings."""

    keypad: KeypadConfig = Field(default_factory=KeypadConfig)
    loiter: LoiterConfig = Field(default_factory=LoiterConfig)
    tailgate: TailgateConfig = Field(default_factory=TailgateConfig)
