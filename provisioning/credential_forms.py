"""The JSON and form shapes of the credential commands (validation at the edge; the rules live in
gateway.application.credentials)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CardFormatBits = Literal[26, 34, 37]


class CardIn(BaseModel):
    """A Wiegand card: its frame format (26, 34 or 37 bits; omitted: the shortest the fields
    fit), facility code and card number. The door refuses the same fields in another format."""

    model_config = ConfigDict(extra="forbid")

    facility: int = Field(ge=0, le=65535)
    number: int = Field(ge=0, le=2**19 - 1)
    format_bits: CardFormatBits | None = None


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(pattern=r"^[0-9]{4,12}$")


class TwoFactorIn(BaseModel):
    """Whether the door asks this person for a second credential (face + PIN/card, card + PIN)."""

    model_config = ConfigDict(extra="forbid")

    required: bool
