"""The `[store]` config table: where the database lives and where its encryption key comes from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StoreConfig(BaseModel):
    """Database location and template-encryption key source."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    url: str = Field(
        "sqlite:///var/menwei.db", description="SQLAlchemy URL (SQLite or PostgreSQL)."
    )
