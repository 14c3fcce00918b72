"""The change signal: did any table behind a resource change since we last looked?

The result cache, the rollups and the live lists all keep something they read earlier and
must know when it went stale. They ask this one seam. Each resource watches the tables its
answers read (``crud.model.dependencies``: its own, joins', relations', views' base tables),
and one small statement reads the counters of every watched table at once, per database:

* PostgreSQL: the cumulative statistics (rows inserted + updated + deleted, live rows) of
  each base relation; a writing session reports them within about a second of its commit.
* MariaDB: InnoDB's modification counter, row count and table id, with ``UPDATE_TIME``;
  a table committed to in the last two seconds has no token yet (None).
* SQLite: ``PRAGMA data_version`` on a connection kept for it: the whole file, not a table.

A resource whose registry declares ``cache: {validator: {column: updated_at}}`` also reads
the max of that column (one more statement, immediate on every database).

Rules for every user: read the token *before* running the statement whose answer you keep,
and keep the answer under that token. ``None`` means "cannot tell now": assume a change.
Concurrent callers share one read in flight; ``max_age_s`` reuses a read that recent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.util import greenlet_spawn

from crud.model.dependencies import tables_read
from crud.model.resource import Resource
from crud.sql.backends.base import ChangeProbe, Rows, Token
from crud.sql.compiled import CompiledStatement
from crud.sql.reader import Reader
from crud.sql.replicas import ReplicaReader

__all__ = ["ChangeSignal", "Signals", "Token"]



@dataclass(frozen=True)
class Snapshot:
    """One read of every watched table: tokens by table (and ``max:<resource>``)."""

    tokens: dict[str, Token | None]
    # Every commit so far is counted (False: PostgreSQL's statistics may lag a recent one).
    settled: bool = True


@dataclass(frozen=True)
class ChangeSignal:
    """What one resource's answers depend on, and how the database tells they moved."""

    resource: str
    tables: tuple[str, ...]
    kind: str
    # The declared validator column whose max is read too (``cache: {validator: ...}``).
    column: str | None = None


class Signals:
    """Every resource's change signal in one app (``app.state.signals``)."""

    def __init__(self, resources: Sequence[Resource], reader: Reader) -> None:
        self.reader = reader
        watched: dict[str, Table] = {}
        reads = {resource.name: tables_read(resource) for resource in resources}
        for tables in reads.values():
            for table in tables:
                watched.setdefault(table.fullname, table)
        self.watched = tuple(watched.values())
        self.probe = reader.backend.change_probe(self.watched)
        columns = {resource.name: column for resource in resources
                   if (column := _validator_column(resource)) is not None}
        probe_kind = self.probe.kind if self.probe is not None else "none"
        self.signals = {
            resource.name: ChangeSignal(
                resource.name, tuple(table.fullname for table in reads[resource.name]),
                kind=f"max({columns[resource.name]})" if resource.name in columns else probe_kind,
                column=columns.get(resource.name))
            for resource in resources}
        # One statement for every declared validator column: a scalar subquery each.
        maxima = [select(func.max(resource.entity.table.c[columns[resource.name]]))
                  .scalar_subquery().label(f"v{index}")
                  for index, resource in enumerate(resources) if resource.name in columns]
        self.maxima = CompiledStatement(select(*maxima), reader.backend.dialect) if maxima else None
        self.maxima_of = [resource.name for resource in resources if resource.name in columns]
        self.dedicated: Any = None  # the probe's own connection, where it needs one
        self.last: tuple[float, Snapshot] | None = None
        self.pending: asyncio.Future[Snapshot] | None = None

    def __repr__(self) -> str:
        return f"Signals({self.probe!r}, resources={list(self.signals)})"

    @property
    def shared(self) -> bool:
        """Tokens mean the same in every process (instances may share what they key by them)."""
        return self.probe is None or self.probe.shared

    def signal(self, resource: str) -> ChangeSignal:
        return self.signals[resource]

    async def token(self, resource: str, *, max_age_s: float = 0.0,
                    fresh: bool = False) -> Token | None:
        return (await self.tokens([resource], max_age_s=max_age_s, fresh=fresh))[resource]

    async def tokens(self, resources: Iterable[str], *, max_age_s: float = 0.0,
                     fresh: bool = False) -> dict[str, Token | None]:
        """Each resource's current token (None: assume it changed).

        ``fresh`` asks for tokens that count every commit so far: where the counters may
        still lag a recent write (PostgreSQL's statistics, for up to ~10 s after a write
        anywhere in the cluster) they are None. A live list wants that; a cache accepts
        the lag instead (its answers are then at most that much behind).
        """
        snapshot = await self._snapshot(max_age_s)
        return {name: self._token(name, snapshot, fresh=fresh) for name in resources}

    def _token(self, resource: str, snapshot: Snapshot, *, fresh: bool) -> Token | None:
        signal = self.signals[resource]
        # Without a probe only a declared column speaks for the resource (its own table).
        counted = self.probe is not None and (snapshot.settled or not fresh)
        parts = [snapshot.tokens.get(table) for table in signal.tables] if counted else []
        if signal.column is not None:
            parts.append(snapshot.tokens.get(f"max:{resource}"))
        if self.probe is not None and not counted:
            parts.append(None)
        if not parts or None in parts:
            return None
        return tuple(parts)

    async def _snapshot(self, max_age_s: float) -> Snapshot:
        if self.last is not None and time.monotonic() - self.last[0] <= max_age_s:
            return self.last[1]
        if self.pending is None:  # one read in flight, whoever asks meanwhile awaits it
            self.pending = asyncio.ensure_future(self._read())
            self.pending.add_done_callback(self._settled)
        return await asyncio.shield(self.pending)

    def _settled(self, future: asyncio.Future[Snapshot]) -> None:
        self.pending = None
        if not future.cancelled() and future.exception() is None:
            self.last = (time.monotonic(), future.result())

    async def _read(self) -> Snapshot:
        tokens: dict[str, Token | None] = {}
        settled = True
        if self.probe is not None:
            tokens.update(await self._probe(self.probe))
            settled = self.probe.settled
        if self.maxima is not None:
            [row] = await self._fetch_pooled(self.maxima, on_primary=False)
            tokens.update({f"max:{name}": (value,) for name, value in
                           zip(self.maxima_of, row, strict=True)})
        return Snapshot(tokens, settled)

    async def _probe(self, probe: ChangeProbe) -> dict[str, Token | None]:
        if not probe.dedicated:
            return await probe.read(
                lambda statement: self._fetch_pooled(statement, on_primary=probe.on_primary))
        try:
            return await probe.read(self._fetch_dedicated)
        except Exception:
            # A new connection's counter does not compare with the old one's: a new probe.
            await self._close_dedicated()
            self.probe = self.reader.backend.change_probe(self.watched)
            raise

    async def _fetch_pooled(self, statement: CompiledStatement, *, on_primary: bool) -> Rows:
        connection = (self.reader.primary_connection()
                      if on_primary and isinstance(self.reader, ReplicaReader)
                      else self.reader.connection())
        async with connection:
            return await connection.fetch(statement, {})

    async def _fetch_dedicated(self, statement: CompiledStatement) -> Rows:
        if self.dedicated is None:
            self.dedicated = await self.reader.engine.raw_connection()
        arguments = statement.arguments({})
        for listener in self.reader.listeners:
            listener(statement.sql, arguments)
        rows, codes = await self.reader.backend.fetch(self.dedicated, statement.sql, arguments,
                                                      None)
        return statement.decode(rows, codes)

    async def _close_dedicated(self) -> None:
        dedicated, self.dedicated = self.dedicated, None
        if dedicated is not None:
            await greenlet_spawn(dedicated.invalidate)

    async def close(self) -> None:
        """Let go of the probe's own connection (before the engine is disposed)."""
        await self._close_dedicated()


def _validator_column(resource: Resource) -> str | None:
    cache = resource.spec.cache
    validator = cache.validator if cache is not None else None
    return validator.column if validator is not None else None
