"""Request and response bodies of the secrets API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"


class SecretPut(BaseModel):
    """A secret's value (write-only) and description."""

    model_config = ConfigDict(extra="forbid")

    value: SecretStr = Field(
        min_length=1, max_length=65536, description="Stored encrypted; never returned."
    )
    description: str = Field("", max_length=1000)


class SecretOut(BaseModel):
    """A secret's metadata; the value is never returned."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    key_id: str = Field(description="Id of the data key its ciphertext was sealed with.")
    created_by: str
    created_at: datetime
    updated_at: datetime
