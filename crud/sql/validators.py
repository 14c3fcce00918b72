"""Cheap validators: one tiny statement that says whether a resource's rows changed.

A resource's ``cache: {validator: ...}`` names what moves when its rows change: the max of
a column (``updated_at``, or an id from a sequence: inserts only), or PostgreSQL's
statistics of the table (rows inserted + updated + deleted). The HTTP layer puts the value
into the ETag, so a conditional request is answered by this one statement instead of the
page's (crud.http.caching). It watches the resource's own table only: derived fields read
from other tables change without it (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from crud.config.registry import RegistryIssue, ValidatorSpec
from crud.config.yamlfile import LocatedData
from crud.model.binding import hint
from crud.model.resource import Resource
from crud.sql.backends import Backend
from crud.sql.compiled import CompiledStatement
from crud.sql.reader import Reader
from crud.sql.replicas import ReplicaReader

__all__ = ["Validator", "validator_for", "validator_issues"]


class Validator:
    """The compiled validator statement of one resource and where it must run."""

    def __init__(self, statement: CompiledStatement, kind: str, *, on_primary: bool) -> None:
        self.statement = statement
        self.kind = kind
        # A standby's statistics count none of the rows it replays: they are read where
        # the writes happen.
        self.on_primary = on_primary

    def __repr__(self) -> str:
        return f"Validator({self.kind!r})"

    async def read(self, reader: Reader) -> Any:
        """The validator's current value (one statement)."""
        connection = (reader.primary_connection()
                      if self.on_primary and isinstance(reader, ReplicaReader)
                      else reader.connection())
        async with connection:
            [row] = await connection.fetch(self.statement, {})
        return row[0]


def validator_for(resource: Resource, backend: Backend) -> Validator | None:
    """The resource's validator, or None without one (``validator_issues`` checked it)."""
    cache = resource.spec.cache
    spec = cache.validator if cache is not None else None
    if spec is None:
        return None
    table = resource.entity.table
    if spec.column is not None:
        value: Any = func.max(table.c[spec.column])
        kind = f"max({spec.column})"
    else:
        value = backend.change_counter(table)
        kind = "statistics"
    return Validator(CompiledStatement(select(value), backend.dialect), kind,
                     on_primary=spec.column is None)


def validator_issues(resources: Sequence[Resource], backend: Backend, *, path: str,
                     located: LocatedData | None) -> list[RegistryIssue]:
    """Validators naming no column of the table, or statistics the database lacks."""
    issues = []
    for resource in resources:
        cache = resource.spec.cache
        spec: ValidatorSpec | None = cache.validator if cache is not None else None
        if spec is None:
            continue
        where = ("resources", resource.name, "cache", "validator")
        columns = [column.name for column in resource.entity.table.c]
        if spec.column is not None and spec.column not in columns:
            message = (f"{resource.entity.table.name} has no column {spec.column!r}"
                       f"{hint(spec.column, columns)}")
        elif spec.statistics and backend.change_counter(resource.entity.table) is None:
            message = (f"statistics: the {backend.name} database keeps no change counts per "
                       "table; use column: NAME (an updated_at or sequence column)")
        else:
            continue
        key = (*where, "column" if spec.column is not None else "statistics")
        line = located.line_of(key) if located is not None else None
        issues.append(RegistryIssue(path=path, line=line, key=".".join(key), message=message))
    return issues
