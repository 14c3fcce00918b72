"""``crud check``: hold each derived join to its promise of at most one row per key.

A second row for a key repeats the base row in pages and counts, silently. The check
groups the join's select by its key columns once (one statement per join, stopping at the
first duplicate): a full pass over the select, which is what a check is for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from crud.config.registry import RegistryIssue
from crud.config.yamlfile import LocatedData
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource
from crud.sql.database import make_engine

__all__ = ["duplicate_join_keys"]


async def duplicate_join_keys(resources: list[Resource], url: str, *, path: str,
                              located: LocatedData | None = None) -> list[RegistryIssue]:
    """One issue per join of ``resources`` whose select has two rows for some key."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_check, resources, path, located)
    finally:
        await engine.dispose()


def _check(connection: Connection, resources: list[Resource], path: str,
           located: LocatedData | None) -> list[RegistryIssue]:
    issues = []
    for resource in resources:
        for join in _joins(resource):
            key = connection.execute(_first_duplicate(join)).first()
            if key is None:
                continue
            location = ("resources", resource.name, "joins", join.name, "select")
            shown = ", ".join(f"{theirs}={value!r}" for (_, theirs), value in zip(join.on, key,
                                                                               strict=True))
            issues.append(RegistryIssue(
                path=path, line=located.line_of(location) if located is not None else None,
                key=".".join(location),
                message=f"the select has several rows for {shown}: a join needs at most one per "
                        f"key, or rows of {resource.name} repeat (aggregate, or key it by more "
                        "columns)"))
    return issues


def _joins(resource: Resource) -> Iterator[DerivedJoin]:
    seen: set[str] = set()
    for leaf in resource.leaves.values():
        for hop in leaf.hops:
            if isinstance(hop, DerivedJoin) and hop.name not in seen:
                seen.add(hop.name)
                yield hop


def _first_duplicate(join: DerivedJoin) -> Any:
    rows = join.subquery("derived")
    keys = [rows.c[theirs] for _, theirs in join.on]
    return select(*keys).group_by(*keys).having(func.count() > 1).limit(1)
