"""The `[access]` config table: keypad entry, card-reader and keypad brute-force lockouts, the
second-factor window, and the suspicious-person rules."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

QUIET_SPAN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KeypadConfig(Section):
    """The Wiegand keypad: visitor codes (`code #`) and resident PINs (`# number # PIN #`, see
    docs/keypad.md); one lockout counts wrong codes and wrong PINs together."""

    min_code_length: int = Field(4, ge=4, le=12, description="Shortest code accepted for lookup.")
    max_code_length: int = Field(12, ge=4, le=32, description="Longer input is discarded.")
    max_resident_number_length: int = Field(
        8,
        ge=1,
        le=12,
        description="Longest resident number accepted before the PIN (the number on the "
        "person's page); longer input is discarded.",
    )
    entry_timeout_s: float = Field(
        10.0, ge=2.0, le=120.0, description="Digits older than this (no key pressed) are dropped."
    )
    max_failures: int = Field(
        5, ge=1, le=50, description="Wrong codes or PINs in a row before the keypad locks."
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


class CardReaderConfig(Section):
    """Unknown-card bursts (someone trying card numbers): the reader locks out for a while."""

    max_unknown_cards: int = Field(
        5,
        ge=1,
        le=1000,
        description="Unknown cards (or cards in the wrong frame format) within `window_s` "
        "that lock the reader and raise a `card_brute_force` alert.",
    )
    window_s: float = Field(
        60.0, ge=1.0, le=3600.0, description="Sliding window for counting unknown cards."
    )
    lockout_s: float = Field(
        120.0,
        ge=1.0,
        le=86400.0,
        description="How long the reader stays locked; every unknown card read while locked "
        "starts it again. Registered cards read while locked are refused with reason "
        "`card_reader_locked`.",
    )


class SecondFactorConfig(Section):
    """People set to two factors: after their first credential the door waits for a second."""

    window_s: float = Field(
        20.0,
        ge=3.0,
        le=300.0,
        description="How long after the first credential (face, card or PIN) the second one, "
        "of the same person and of another kind, is accepted.",
    )


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


class VisitorCallConfig(Section):
    """A visitor calls a unit from the keypad (`# # unit #`); the resident answers through the
    station (docs/mqtt.md, `answer_call`). Quiet hours are per unit, in the site's local time."""

    enabled: bool = Field(
        True,
        description="Whether the keypad's call entry places calls (only with `[station] "
        "enabled`: the station relays the call to the resident).",
    )
    ring_s: float = Field(
        45.0, ge=5.0, le=300.0, description="Ring window: no answer within it ends as missed."
    )
    door_max_calls: int = Field(
        6, ge=1, le=1000, description="Calls one door may place per `door_window_s`."
    )
    door_window_s: float = Field(60.0, ge=1.0, le=86400.0, description="Per-door rate window.")
    unit_max_calls: int = Field(
        3, ge=1, le=1000, description="Calls one unit may receive per `unit_window_s`."
    )
    unit_window_s: float = Field(300.0, ge=1.0, le=86400.0, description="Per-unit rate window.")
    scan_units: int = Field(
        5,
        ge=2,
        le=1000,
        description="Alert `call_unit_scan` when one door calls this many different units "
        "within `scan_window_s`.",
    )
    scan_window_s: float = Field(120.0, ge=1.0, le=86400.0, description="Window of that alert.")
    quiet_hours: dict[str, str] = Field(
        default_factory=dict,
        description='Units that reject calls at night: unit as typed -> "HH:MM-HH:MM" '
        '(local time; may wrap midnight), e.g. {"1201" = "22:00-07:00"}.',
    )

    @model_validator(mode="after")
    def _quiet_hours(self) -> VisitorCallConfig:
        for unit, span in self.quiet_hours.items():
            if not unit.isdigit() or QUIET_SPAN.fullmatch(span) is None:
                raise ValueError(f'quiet_hours: {unit!r} = {span!r} is not digits = "HH:MM-HH:MM"')
        return self


class AccessConfig(Section):
    """Access policy settings."""

    keypad: KeypadConfig = Field(default_factory=KeypadConfig)
    card_reader: CardReaderConfig = Field(default_factory=CardReaderConfig)
    second_factor: SecondFactorConfig = Field(default_factory=SecondFactorConfig)
    loiter: LoiterConfig = Field(default_factory=LoiterConfig)
    tailgate: TailgateConfig = Field(default_factory=TailgateConfig)
    visitor_call: VisitorCallConfig = Field(default_factory=VisitorCallConfig)
