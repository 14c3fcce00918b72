"""Cheap validators: the change signal standing in for a resource's rows in its ETag.

A resource's ``cache: {validator: ...}`` asks for a validated ETag: the HTTP layer puts the
resource's change-signal token (``crud.sql.signals``) into the tag, so a conditional request
is answered by the signal's one small statement instead of the page's (crud.http.caching).
``statistics: true`` relies on the database's own counters (every table the resource reads:
joins, relations and a view's base tables included); ``column: NAME`` adds the max of a
column that every write moves (``updated_at``), which is immediate where the counters lag.
"""

from __future__ import annotations

from collections.abc import Sequence

from crud.config.registry import RegistryIssue, ValidatorSpec
from crud.config.yamlfile import LocatedData
from crud.model.binding import hint
from crud.model.resource import Resource
from crud.sql.signals import Signals, Token

__all__ = ["Validator", "validator_for", "validator_issues"]


class Validator:
    """One resource's validated-ETag value: its change-signal token."""

    def __init__(self, signals: Signals, resource: str) -> None:
        self.signals = signals
        self.resource = resource
        self.kind = signals.signal(resource).kind

    def __repr__(self) -> str:
        return f"Validator({self.kind!r})"

    async def read(self) -> Token | None:
        """The token now; None when the database cannot vouch for one (tag by the body)."""
        return await self.signals.token(self.resource)


def validator_for(resource: Resource, signals: Signals) -> Validator | None:
    """The resource's validator, or None without one (``validator_issues`` checked it)."""
    cache = resource.spec.cache
    if cache is None or cache.validator is None:
        return None
    return Validator(signals, resource.name)


def validator_issues(resources: Sequence[Resource], *, path: str,
                     located: LocatedData | None) -> list[RegistryIssue]:
    """Validators naming no column of the table."""
    issues = []
    for resource in resources:
        cache = resource.spec.cache
        spec: ValidatorSpec | None = cache.validator if cache is not None else None
        if spec is None or spec.column is None:
            continue
        columns = [column.name for column in resource.entity.table.c]
        if spec.column in columns:
            continue
        key = ("resources", resource.name, "cache", "validator", "column")
        line = located.line_of(key) if located is not None else None
        issues.append(RegistryIssue(
            path=path, line=line, key=".".join(key),
            message=f"{resource.entity.table.name} has no column {spec.column!r}"
                    f"{hint(spec.column, columns)}"))
    return issues
