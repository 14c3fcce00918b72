"""The ``crud`` command: parse arguments, then call the library. Nothing else lives here."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.app import LoadedRegistry, create_app, load
from crud.config.registry import RegistryError, load_registry
from crud.config.settings import DEFAULT_DATABASE_URL, Settings
from crud.sql.database import make_engine, missing_tables
from crud.sql.indexes import LARGE_TABLE_ROWS, index_advice

__all__ = ["main"]

cli = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Serve a read-only REST API described by registry.yaml.")

RegistryOption = Annotated[Optional[Path], typer.Option("--registry", "-r",  # noqa: UP045
                                                        help="Registry file [env CRUD_REGISTRY]")]
UrlOption = Annotated[Optional[str], typer.Option("--database-url",  # noqa: UP045
                                                  help="Async SQLAlchemy URL [env DATABASE_URL]")]


def _settings(registry: Path | None, database_url: str | None, **more: object) -> Settings:
    overrides = {key: value for key, value in
                 {"registry": registry, "database_url": database_url, **more}.items()
                 if value is not None}
    return Settings(**overrides)  # type: ignore[arg-type]


def _load(settings: Settings) -> LoadedRegistry:
    try:
        return asyncio.run(load(settings.registry, settings.database_url))
    except RegistryError as error:
        _fail(error)


def _app_or_fail(loaded: LoadedRegistry, engine: AsyncEngine, settings: Settings) -> FastAPI:
    try:
        return create_app(loaded, engine, settings=settings)
    except RegistryError as error:
        _fail(error)


def _fail(error: RegistryError) -> NoReturn:
    for issue in error.issues:
        typer.echo(str(issue), err=True)
    typer.echo(f"{len(error.issues)} problem(s) in the registry.", err=True)
    raise typer.Exit(1)


@cli.command()
def check(
    registry: RegistryOption = None,
    database_url: UrlOption = None,
    large_table_rows: Annotated[int, typer.Option(
        help="With --database-url: warn about unindexed sort/filter columns on tables "
             "at least this big")] = LARGE_TABLE_ROWS,
) -> None:
    """Validate the registry against the models or the database; exit 1 on any problem."""
    settings = _settings(registry, database_url)
    loaded = _load(settings)
    if database_url is not None:
        missing = asyncio.run(missing_tables(loaded.resources, settings.database_url))
        for name in missing:
            table = next(r.entity.table.name for r in loaded.resources if r.name == name)
            typer.echo(f"{settings.registry}: resources.{name}: table {table!r} is not in the "
                       "database (create it, or check --database-url)", err=True)
        if missing:
            raise typer.Exit(1)
        _warn_missing_indexes(loaded, settings, large_table_rows)
    names = ", ".join(resource.name for resource in loaded.resources)
    typer.echo(f"{settings.registry}: OK ({len(loaded.resources)} resources: {names})")


def _warn_missing_indexes(loaded: LoadedRegistry, settings: Settings, min_rows: int) -> None:
    located = load_registry(settings.registry)[1]
    advice = asyncio.run(index_advice(loaded.resources, settings.database_url,
                                      path=str(settings.registry), located=located,
                                      min_rows=min_rows))
    for item in advice:
        typer.echo(f"warning: {item}", err=True)


@cli.command()
def serve(
    registry: RegistryOption = None,
    database_url: UrlOption = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="Port")] = None,  # noqa: UP045
    workers: Annotated[Optional[int], typer.Option(help="Worker processes")] = None,  # noqa: UP045
) -> None:
    """Serve the API (with no options: ./registry.yaml over a local SQLite demo database)."""
    import uvicorn

    settings = _settings(registry, database_url, host=host, port=port, workers=workers)
    if settings.database_url == DEFAULT_DATABASE_URL:
        _ensure_demo_database(settings.database_url)
    loaded = _load(settings)
    engine = make_engine(settings.database_url, pool_size=settings.pool_size,
                         statement_timeout_ms=loaded.registry.api.statement_timeout_ms)
    # Built here even for several workers: settings problems (a protected resource without
    # keys) show as messages before any process starts.
    app = _app_or_fail(loaded, engine, settings)
    typer.echo(f"Serving {len(loaded.resources)} resources from {settings.registry}")
    typer.echo(f"Docs: http://{settings.host}:{settings.port}/docs")
    # Our own JSON access log replaces uvicorn's when it is on.
    options: dict[str, Any] = {"host": settings.host, "port": settings.port,
                               "log_level": settings.log_level,
                               "access_log": not settings.access_log}
    if settings.workers > 1:
        # Each worker builds its own app from the same settings, passed through the env.
        os.environ["CRUD_REGISTRY"] = str(settings.registry)
        os.environ["DATABASE_URL"] = settings.database_url
        # One cursor-signing key for all workers, or a cursor one issued fails on another.
        os.environ.setdefault("CRUD_CURSOR_SECRET", secrets.token_urlsafe(32))
        uvicorn.run("crud.app:app_from_environment", factory=True, workers=settings.workers,
                    **options)
        return
    uvicorn.run(app, **options)


def _ensure_demo_database(url: str) -> None:
    from resources.demo import load_demo_data

    path = Path(url.split("///", 1)[1])
    if path.exists():
        return
    typer.echo(f"Creating the demo database {path} ...")
    engine = make_engine(url, read_only=False)

    async def fill() -> dict[str, int]:
        try:
            return await load_demo_data(engine, scale=2000)
        finally:
            await engine.dispose()

    asyncio.run(fill())


@cli.command("demo-data")
def demo_data(
    database_url: UrlOption = None,
    scale: Annotated[int, typer.Option(help="Number of koji builds; other tables scale")] = 2000,
) -> None:
    """Create the example tables and fill them with deterministic demo data."""
    from resources.demo import load_demo_data

    url = database_url or Settings().database_url
    engine = make_engine(url, read_only=False)

    async def fill() -> dict[str, int]:
        try:
            return await load_demo_data(engine, scale=scale)
        finally:
            await engine.dispose()

    counts = asyncio.run(fill())
    for table, count in counts.items():
        typer.echo(f"{table}: {count}")


@cli.command()
def init(
    database_url: UrlOption = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")] = Path(
        "registry.yaml"),
    schema: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Schema to list (default: the connection's)")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file")] = False,
) -> None:
    """Write a commented starter registry for every table and view of the database."""
    from crud.ops.starter import StarterError, write_starter

    url = _settings(None, database_url).database_url
    try:
        drafts = asyncio.run(write_starter(url, output, force=force, schema=schema))
    except StarterError as error:
        typer.echo(f"crud init: {error}", err=True)
        raise typer.Exit(1) from None
    disabled = [draft.name for draft in drafts if draft.disabled]
    note = f" ({len(disabled)} commented out: {', '.join(disabled)})" if disabled else ""
    typer.echo(f"Wrote {output}: {len(drafts)} resources{note}. Review it, then: "
               f"crud check --registry {output} --database-url URL")


@cli.command()
def openapi(
    registry: RegistryOption = None,
    database_url: UrlOption = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None,  # noqa: UP045
) -> None:
    """Write the OpenAPI document (to stdout, or --output FILE)."""
    settings = _settings(registry, database_url)
    loaded = _load(settings)
    app = _app_or_fail(loaded, make_engine(settings.database_url), settings)
    text = json.dumps(app.openapi(), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    cli()



if __name__ == "__main__":
    main()
