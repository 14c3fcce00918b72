"""Settings from the environment (``CRUD_*`` and ``DATABASE_URL``); CLI flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./crud-demo.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRUD_", frozen=True, extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "CRUD_DATABASE_URL"),
        description="SQLAlchemy async URL (sqlite+aiosqlite, postgresql+asyncpg, mysql+aiomysql)",
    )
    registry: Path = Field(Path("registry.yaml"), description="Path of the registry file")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)
    log_level: str = "info"
    pool_size: int = Field(10, ge=1)
    # Operations (docs/operations.md). Lists are comma-separated in the environment.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Browser origins allowed by CORS, comma-separated ('*' for any); "
                        "empty turns CORS off")
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="Keys accepted in X-API-Key by resources with 'auth: api_key'")
    bearer_tokens: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="Tokens accepted in 'Authorization: Bearer' by resources with "
                        "'auth: bearer'")
    readiness_timeout_ms: int = Field(
        2000, ge=1, description="How long /readyz waits for the database's SELECT 1")
    access_log: bool = Field(True, description="One JSON line per request on logger crud.access")
    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics")
    opentelemetry: bool = Field(
        False, description="FastAPI's native OpenTelemetry instrumentation (traces, metrics, "
                           "logs through the globally configured providers)")

    @field_validator("cors_origins", "api_keys", "bearer_tokens", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # Env values arrive as one string; blanks around commas and empty items are dropped.
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value
    cursor_secret: SecretStr | None = Field(
        None, description="Key that signs pagination cursors; random per process when unset")
