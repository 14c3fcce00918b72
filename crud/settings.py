"""Settings from the environment (``CRUD_*`` and ``DATABASE_URL``); CLI flags override them."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    cursor_secret: SecretStr | None = Field(
        None, description="Key that signs pagination cursors; random per process when unset")
