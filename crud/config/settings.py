"""Settings from the environment (``CRUD_*`` and ``DATABASE_URL``); CLI flags override them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "async_database_url"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./crud-demo.db"
# The async driver behind each database a URL may name, with or without a sync driver
# (postgresql://, postgresql+psycopg2://, mysql+pymysql://): the URL a user already has works.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                  "postgres": "postgresql+asyncpg", "mysql": "mysql+aiomysql",
                  "mariadb": "mysql+aiomysql"}
# The async drivers installed with crud: a URL naming one is kept as written, any other
# driver (psycopg2, pymysql, asyncmy) is replaced, as it may not be installed.
_ASYNC_FORMS = {"sqlite+aiosqlite", "postgresql+asyncpg", "mysql+aiomysql", "mariadb+aiomysql"}
_SCHEME = re.compile(r"(?P<database>[a-z]+)(\+(?P<driver>[a-z0-9_]+))?://", re.IGNORECASE)
# What Starlette's TrustedHostMiddleware can match: a name or address as the Host header
# carries it without the port (IPv6 in brackets), '*' or a leading '*.' for subdomains.
_HOST_PATTERN = re.compile(r"\*|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRUD_", frozen=True, extra="ignore",
                                      populate_by_name=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "CRUD_DATABASE_URL"),
        description="SQLAlchemy async URL (sqlite+aiosqlite, postgresql+asyncpg, mysql+aiomysql)",
    )
    registry: Path = Field(Path("registry.yaml"), description="Path of the registry file")
    reload_registry: bool = Field(
        False, description="Watch the registry file and reload it when its content changes "
                           "(SIGHUP reloads it either way)")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)
    log_level: str = "info"
    pool_size: int = Field(10, ge=1)
    pool_timeout_ms: int = Field(
        10_000, ge=1, description="How long a request waits for a free database connection "
                                  "before it is answered 503 with Retry-After")
    # Read replicas (docs/scaling.md): reads go to them, the primary is the fallback.
    replica_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=AliasChoices("CRUD_REPLICA_URLS", "DATABASE_REPLICA_URLS"),
        description="Async SQLAlchemy URLs of read replicas, comma-separated; reads go to "
                    "the healthy ones in turn, to the primary when none is")
    replica_max_lag_ms: int | None = Field(
        None, ge=0, description="Skip a PostgreSQL replica whose replay lags the primary by "
                                "more than this (pg_last_xact_replay_timestamp)")
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
    trusted_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Host header values the API answers, comma-separated ('*.example.org' "
                        "for subdomains); others get 400. Empty: any host")
    public_url: str | None = Field(
        None, description="Scheme, host and optional path prefix clients reach the API at "
                          "(https://api.example.org); links and redirects start with it. "
                          "Empty: they are root-relative, never on the request's Host")

    @field_validator("database_url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("replica_urls")
    @classmethod
    def _async_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(async_database_url(url) for url in value)
    # The result cache (docs/caching.md): in this process by default, Redis when set.
    cache_url: SecretStr | None = Field(
        None, description="redis://host:port/db of a Redis that keeps computed totals, facets "
                          "and aggregates for every instance; unset: each process keeps its own")
    cache_max_mb: int = Field(
        64, ge=0, description="Bound of the in-process result cache in MiB (least recently "
                              "used entries leave first); 0 turns the cache off")

    @field_validator("cors_origins", "api_keys", "bearer_tokens", "trusted_hosts",
                     "replica_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # Env values arrive as one string; blanks around commas and empty items are dropped.
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("trusted_hosts")
    @classmethod
    def _host_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        hosts = tuple(host.lower() for host in value)
        for host in hosts:
            if not _HOST_PATTERN.fullmatch(host):
                raise ValueError(f"{host!r} is not a host name: give the name alone, without "
                                 "scheme, port or path ('api.example.org', '*.example.org')")
        return hosts

    @field_validator("public_url")
    @classmethod
    def _absolute_base(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an absolute http(s) URL "
                             "(e.g. https://api.example.org)")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{value!r}: a base URL has no query, fragment or credentials")
        # Links append the path from the prefix on: one slash between them, never two.
        return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    # Live lists (docs/live.md): caps on watchers, the heartbeat of idle streams.
    live_max_subscribers: int = Field(
        10_000, ge=0, description="Watched lists (SSE and WebSocket streams) one process "
                                  "serves at once; more are refused with 429")
    live_max_per_client: int = Field(
        100, ge=0, description="Watched lists one client address may hold open at once; "
                               "more are refused with 429")
    live_backlog: int = Field(
        1000, ge=1, description="Events queued for a client that does not read them before "
                                "its stream is closed (it resumes with Last-Event-ID)")
    live_heartbeat_ms: int = Field(
        15_000, ge=10, description="A comment (SSE) or heartbeat frame (WebSocket) after this "
                                   "long without events, so proxies keep the stream open")
    cursor_secret: SecretStr | None = Field(
        None, description="Key that signs pagination cursors; random per process when unset")


def async_database_url(url: str) -> str:
    """``url`` with the async driver of its database (``sqlite:///x.db`` -> ``sqlite+aiosqlite``).

    A URL that already names an async driver is returned as it is; one naming a database
    this API does not run on is a ValueError saying which URLs it takes.
    """
    scheme = _SCHEME.match(url.strip())
    if scheme is None:
        return url  # not a URL at all: SQLAlchemy's own message says so, in one line
    database = scheme["database"].lower()
    if database not in _ASYNC_DRIVERS:
        raise ValueError(f"{scheme[0]} is not a database this API runs on; use sqlite://, "
                         "postgresql:// or mysql:// (mariadb://)")
    asynchronous = _ASYNC_DRIVERS[database]
    if scheme["driver"] and f"{database}+{scheme['driver'].lower()}" in _ASYNC_FORMS:
        return url
    return asynchronous + url.strip()[len(scheme[0]) - 3:]
