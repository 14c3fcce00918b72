"""The ``crud`` command: parse arguments, then call the library. Nothing else lives here."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.app import LoadedRegistry, create_app, load
from crud.config.registry import Registry, RegistryError, RegistryIssue, load_registry
from crud.config.settings import DEFAULT_DATABASE_URL, Settings
from crud.ops.tables import missing_table_issues, unreachable_reason
from crud.sql.database import make_engine, serving_engine
from crud.sql.indexes import LARGE_TABLE_ROWS, index_advice
from crud.sql.joinkeys import duplicate_join_keys

__all__ = ["main"]

cli = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Serve a read-only REST API described by registry.yaml.")

RegistryOption = Annotated[Optional[Path], typer.Option("--registry", "-r",  # noqa: UP045
                                                        help="Registry file [env CRUD_REGISTRY]")]
UrlOption = Annotated[Optional[str], typer.Option("--database-url",  # noqa: UP045
                                                  help="Async SQLAlchemy URL [env DATABASE_URL]")]
# What reaching a database can raise before any statement runs: the server's refusal (wrapped
# by SQLAlchemy), the socket's (refused, unknown host: asyncpg does not wrap these), a URL
# SQLAlchemy cannot parse or a driver it does not know.
DATABASE_ERRORS = (DBAPIError, OSError, ArgumentError)
# Seconds open streams (watched lists, exports) get to finish after SIGTERM.
SHUTDOWN_GRACE_S = 5
FLAGS = {"registry": "--registry", "host": "--host", "port": "--port", "workers": "--workers",
         "reload_registry": "--reload-registry"}


def _version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"crud {installed_version('crud')}")
        raise typer.Exit()


@cli.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit")] = False,
) -> None:
    """Serve a read-only REST API described by registry.yaml."""
    # As with uvicorn and flask, the user's own modules (model: models:Build, routers:,
    # mounts:, select:, expression:) import from the folder the command runs in.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _settings(registry: Path | None, database_url: str | None, **more: object) -> Settings:
    overrides = {key: value for key, value in
                 {"registry": registry, "database_url": database_url, **more}.items()
                 if value is not None}
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        for problem in error.errors():
            typer.echo(f"settings: {_setting_problem(problem)}", err=True)
        raise typer.Exit(1) from None


def _setting_problem(problem: Any) -> str:
    name = str(problem["loc"][0]) if problem["loc"] else "settings"
    field = Settings.model_fields.get(name)
    variable = f"CRUD_{name.upper()}" if field is not None else name  # else an alias already
    flag = f" ({FLAGS[name]})" if name in FLAGS else ""
    # A secret's rejected value must not reach a terminal or a CI log.
    secret = field is not None and "SecretStr" in str(field.annotation)
    got = "" if secret else f" (got {problem.get('input')!r})"
    return f"{variable}{flag}: {problem['msg']}{got}"


def _load(settings: Settings, *, reads_database: bool = True) -> LoadedRegistry:
    """The bound registry; ``reads_database=False``: the database is read only to reflect
    ``table:`` resources (crud openapi of a models-only registry needs none)."""
    reflects = any(spec.table for spec in _registry_only(settings).resources.values())
    if settings.database_url != DEFAULT_DATABASE_URL:  # the demo's is created when served
        if reads_database or reflects:
            _refuse_missing_sqlite(settings.database_url)
    elif reflects and not _demo_path(settings.database_url).exists():
        _no_database(settings)  # reflecting would create an empty ./crud-demo.db
    try:
        with _reaching(settings.database_url):
            return asyncio.run(load(settings.registry, settings.database_url))
    except RegistryError as error:
        _fail(error)


@contextmanager
def _reaching(url: str) -> Iterator[None]:
    """A database that cannot be reached is one line naming it, and exit 1."""
    try:
        yield
    except DATABASE_ERRORS as error:
        _fail_line(f"{_shown(url)}: {unreachable_reason(error)} "
                   "(check --database-url or DATABASE_URL)")


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _fail_line(line: str) -> NoReturn:
    typer.echo(line, err=True)
    raise typer.Exit(1)


def _app_or_fail(loaded: LoadedRegistry, engine: AsyncEngine, settings: Settings) -> FastAPI:
    try:
        return create_app(loaded, engine, settings=settings)
    except RegistryError as error:
        _fail(error)


def _fail(error: RegistryError) -> NoReturn:
    for issue in error.issues:
        typer.echo(str(issue), err=True)
    if len(error.issues) > 1:  # one problem is one line
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
        with _reaching(settings.database_url):
            issues = _missing_tables(loaded, settings)
        if issues:
            _fail(RegistryError(issues))
        _check_join_keys(loaded, settings)
        _warn_missing_indexes(loaded, settings, large_table_rows)
    names = ", ".join(resource.name for resource in loaded.resources)
    typer.echo(f"{settings.registry}: OK ({len(loaded.resources)} resources: {names})")


def _check_join_keys(loaded: LoadedRegistry, settings: Settings) -> None:
    issues = asyncio.run(duplicate_join_keys(loaded.resources, settings.database_url,
                                             path=str(settings.registry), located=loaded.located))
    if issues:
        _fail(RegistryError(issues))


def _missing_tables(loaded: LoadedRegistry, settings: Settings) -> list[RegistryIssue]:
    return asyncio.run(missing_table_issues(loaded.resources, settings.database_url,
                                            path=loaded.path, located=loaded.located))


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
    reload_registry: Annotated[Optional[bool], typer.Option(  # noqa: UP045
        "--reload-registry", help="Reload the registry when the file changes (SIGHUP reloads "
                                  "it either way) [env CRUD_RELOAD_REGISTRY]")] = None,
) -> None:
    """Serve the API (with no options: ./registry.yaml over a local SQLite demo database)."""
    import uvicorn

    from crud.reloading import Reloadable, build_app

    settings = _settings(registry, database_url, host=host, port=port, workers=workers,
                         reload_registry=reload_registry)
    loaded = _load_for_serving(settings)
    with _reaching(settings.database_url):  # a URL SQLAlchemy cannot parse
        engine = serving_engine(settings, loaded.registry.api)
    _refuse_missing_tables(loaded, settings)
    # Built here even for several workers: settings problems (a protected resource without
    # keys) show as messages before any process starts.
    app = _app_or_fail(loaded, engine, settings)
    typer.echo(f"Serving {len(loaded.resources)} resources from {settings.registry}")
    typer.echo(f"Docs: http://{settings.host}:{settings.port}/docs")
    # Our own JSON access log replaces uvicorn's; CRUD_ACCESS_LOG=false turns both off.
    options: dict[str, Any] = {"host": settings.host, "port": settings.port,
                               "log_level": settings.log_level, "access_log": False,
                               # Watched lists never end by themselves: cut what is still
                               # open this long after SIGTERM (clients reconnect elsewhere).
                               "timeout_graceful_shutdown": SHUTDOWN_GRACE_S}
    if settings.workers > 1:
        # Each worker builds its own app from the same settings, passed through the env.
        os.environ["CRUD_REGISTRY"] = str(settings.registry)
        os.environ["DATABASE_URL"] = settings.database_url
        os.environ["CRUD_RELOAD_REGISTRY"] = str(settings.reload_registry).lower()
        # One cursor-signing key for all workers, or a cursor one issued fails on another.
        os.environ.setdefault("CRUD_CURSOR_SECRET", secrets.token_urlsafe(32))
        # SIGHUP to this (parent) process: uvicorn replaces the workers one by one, each
        # reading the registry anew; SIGHUP to a worker reloads that worker in place.
        uvicorn.run("crud.reloading:app_from_environment", factory=True,
                    workers=settings.workers, **options)
        return
    watch = settings.registry if settings.reload_registry else None
    uvicorn.run(Reloadable(app, partial(build_app, settings), watch=watch), **options)


def _load_for_serving(settings: Settings) -> LoadedRegistry:
    """The bound registry; the demo database is created only once the registry is valid,
    and only for a registry that says ``api: {demo: true}``."""
    if settings.database_url != DEFAULT_DATABASE_URL:
        return _load(settings)
    registry = _registry_only(settings)
    if not registry.api.demo and not _demo_path(settings.database_url).exists():
        _no_database(settings)
    if any(spec.table for spec in registry.resources.values()):
        _ensure_demo_database(settings.database_url)  # binding 'table:' resources reads it
    loaded = _load(settings)
    _ensure_demo_database(settings.database_url)
    return loaded


def _no_database(settings: Settings) -> NoReturn:
    _fail_line(f"{settings.registry}: no database given: pass --database-url URL or set "
               "DATABASE_URL (a demo database is created only for a registry with "
               "'api: {demo: true}')")


def _registry_only(settings: Settings) -> Registry:
    try:
        return load_registry(settings.registry)[0]
    except RegistryError as error:
        _fail(error)


def _refuse_missing_sqlite(url: str) -> None:
    # SQLite would create an empty file, then every table would be reported missing.
    with _reaching(url):
        parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        _fail_line(f"{_shown(url)}: no SQLite database at {file} "
                   "(check --database-url or DATABASE_URL)")


def _refuse_missing_tables(loaded: LoadedRegistry, settings: Settings) -> None:
    # A database that is down now may be up in a second: serve, and /readyz says 503 until
    # it answers and has the tables. A database that answers without them will not heal.
    try:
        issues = _missing_tables(loaded, settings)
    except (DBAPIError, OSError) as error:
        typer.echo(f"warning: {_shown(settings.database_url)}: {unreachable_reason(error)}: "
                   "tables not checked; /readyz answers 503 until they are", err=True)
        return
    if issues:
        _fail(RegistryError(issues))


def _ensure_demo_database(url: str) -> None:
    from resources.demo import load_demo_data

    path = _demo_path(url)
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


def _demo_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


@cli.command("demo-data")
def demo_data(
    database_url: UrlOption = None,
    scale: Annotated[int, typer.Option(help="Number of koji builds; other tables scale")] = 2000,
) -> None:
    """Create the example tables and fill them with deterministic demo data."""
    from resources.demo import load_demo_data

    url = _settings(None, database_url).database_url

    async def fill() -> dict[str, int]:
        engine = make_engine(url, read_only=False)
        try:
            return await load_demo_data(engine, scale=scale)
        finally:
            await engine.dispose()

    try:
        with _reaching(url):
            counts = asyncio.run(fill())
    except ValueError as error:  # tables already filled, a scale below one
        _fail_line(f"{_shown(url)}: {error}")
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
    from crud.starter import StarterError, write_starter

    url = _settings(None, database_url).database_url
    try:
        with _reaching(url):
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
    # The document signs no cursor: a throwaway key keeps the "not set" warning away.
    settings = _settings(registry, database_url, cursor_secret=secrets.token_urlsafe(32))
    loaded = _load(settings, reads_database=False)
    with _reaching(settings.database_url):
        engine = make_engine(settings.database_url)
    app = _app_or_fail(loaded, engine, settings)
    text = json.dumps(app.openapi(), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
