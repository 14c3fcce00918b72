"""Whether the tables the resources read exist in the database at all.

A resource bound to a SQLAlchemy model binds without any database, so a model whose table
was never created passes ``crud check`` and then answers every request with a 500. A
ranked search is the same: SQLite's FTS5 table, MariaDB's FULLTEXT index (MATCH fails
without one) or PostgreSQL's pg_trgm must be there, or every search fails.
``crud check --database-url``, ``crud serve`` and each registry reload ask the database
once, and refuse with located messages. ``/readyz`` asks until one answer finds every
table, then trusts it: a probe every few seconds must not cost a catalog query per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from crud.config.registry import RegistryIssue
from crud.config.yamlfile import LocatedData
from crud.model.resource import Resource
from crud.ops.drift import drift_problems
from crud.sql.backends import backend_for
from crud.sql.database import make_engine
from crud.sql.textsearch import text_search_of

__all__ = ["TableCheck", "absent", "missing_table_issues", "search_problems", "table_issues",
           "unreachable_reason"]


def absent(connection: Connection, resources: Sequence[Resource]) -> list[Resource]:
    """The resources whose table (or view) is not in the database; one catalog query each."""
    inspector = inspect(connection)
    return [resource for resource in resources
            if not inspector.has_table(resource.entity.table.name,
                                       schema=resource.entity.table.schema)]


def table_issues(missing: Sequence[Resource], path: str,
           located: LocatedData | None) -> list[RegistryIssue]:
    return [RegistryIssue(
        path=path, line=located.line_of(("resources", resource.name)) if located else None,
        key=f"resources.{resource.name}",
        message=f"table {resource.entity.table.name!r} is not in the database "
                "(create it, or check --database-url)") for resource in missing]


async def missing_table_issues(resources: Sequence[Resource], url: str, *, path: str,
                               located: LocatedData | None) -> list[RegistryIssue]:
    """One located issue per resource without its table; database errors propagate."""
    if _no_sqlite_file(url):
        return table_issues(resources, path, located)  # connecting would create an empty file
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            missing = await connection.run_sync(absent, resources)
            present = [resource for resource in resources if resource not in missing]
            searches = await connection.run_sync(search_problems, present)
            drifted = await connection.run_sync(drift_problems, present)
    finally:
        await engine.dispose()
    return [*table_issues(missing, path, located), *_search_issues(searches, path, located),
            *_drift_issues(drifted, path, located)]


def _drift_issues(problems: Sequence[tuple[tuple[str | int, ...], str]], path: str,
                  located: LocatedData | None) -> list[RegistryIssue]:
    return [RegistryIssue(path=path, line=located.line_of(where) if located else None,
                          key=".".join(str(part) for part in where), message=message)
            for where, message in problems]


def search_problems(connection: Connection,
                    resources: Sequence[Resource]) -> list[tuple[Resource, str]]:
    """What each resource's ranked search lacks in this database (an index, a table)."""
    backend = backend_for(connection.dialect)
    problems = []
    for resource in resources:
        search = text_search_of(resource)
        problem = backend.search_problem(connection, search) if search is not None else None
        if problem is not None:
            problems.append((resource, problem))
    return problems


def _search_issues(problems: Sequence[tuple[Resource, str]], path: str,
                   located: LocatedData | None) -> list[RegistryIssue]:
    issues = []
    for resource, problem in problems:
        where = ("resources", resource.name, "search")
        issues.append(RegistryIssue(path=path, line=located.line_of(where) if located else None,
                                    key=".".join(where), message=problem))
    return issues


def _no_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    name = parsed.database or ""
    # A "file:" URI may name a memory database: only plain paths are looked up.
    in_memory = name in ("", ":memory:") or name.startswith("file:")
    return parsed.get_backend_name() == "sqlite" and not in_memory and not Path(name).exists()


def unreachable_reason(error: BaseException) -> str:
    """The first line of what the driver said, without SQLAlchemy's wrapping and links."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return (str(cause).strip() or type(cause).__name__).splitlines()[0]


class TableCheck:
    """For ``/readyz``: which resources lack their table, until the first time none does."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = tuple(resources)
        self.verified = not self.resources

    def __repr__(self) -> str:
        return f"TableCheck(resources={len(self.resources)}, verified={self.verified})"

    async def missing(self, connection: AsyncConnection) -> list[Resource]:
        if self.verified:
            return []
        found = await connection.run_sync(absent, self.resources)
        self.verified = not found
        return found
