"""Read replicas: each read on a healthy replica in turn, on the primary when none is.

``ReplicaReader`` is the primary's ``Reader`` that lends, for each request, a connection of
the next healthy replica instead (round-robin). A replica that cannot be reached, or whose
server fails a statement (shut down, crashed, a hot standby cancelling a query that
conflicts with replay), is marked down at once and the request carries on on the primary:
a client never sees a replica fail. A watcher task checks the replicas that are down,
backing off from ``MIN_BACKOFF_S`` to ``MAX_BACKOFF_S``, and every replica each
``LAG_CHECK_S`` when a maximum lag is set; a replica that answers (within the lag) takes
reads again. The watcher starts with the first read and stops on ``close``.

Nothing a client holds names a database: cursors are signed values, not server state, so
a cursor from a page read on one replica pages on another or on the primary.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from crud.sql.compiled import CompiledStatement
from crud.sql.database import engine_backend
from crud.sql.reader import DatabaseBusy, DatabaseUnavailable, ReadConnection, Reader

__all__ = ["Replica", "ReplicaReader", "read_path"]

logger = logging.getLogger("crud.sql.replicas")
MIN_BACKOFF_S = 0.25
MAX_BACKOFF_S = 4.0
LAG_CHECK_S = 1.0
CHECK_TIMEOUT_S = 2.0


@dataclass
class Replica:
    """One replica's reader and what the last check or failure said about it."""

    name: str  # its URL, password hidden
    reader: Reader
    healthy: bool = True
    lag_ms: float | None = None
    problem: str = ""
    retry_at: float = 0.0
    backoff_s: float = field(default=MIN_BACKOFF_S)

    def report(self) -> dict[str, Any]:
        status = "ok" if self.healthy else "lagging" if self.problem.startswith("lag ") else "down"
        entry: dict[str, Any] = {"name": self.name, "role": "replica", "status": status}
        if self.lag_ms is not None:
            entry["lag_ms"] = round(self.lag_ms)
        return entry


def read_path(primary: Reader, replica_urls: Sequence[str], *,
              connect: Callable[[str], AsyncEngine], max_lag_ms: int | None = None) -> Reader:
    """``primary`` alone, or a ``ReplicaReader`` over it and an engine per replica URL
    (made by ``connect``, pooled and timed as the primary's)."""
    if not replica_urls:
        return primary
    replicas = []
    for url in replica_urls:
        engine = connect(url)
        replicas.append(Reader(engine, engine_backend(engine), keep=primary.keep,
                               keep_s=primary.keep_s, budget_ms=primary.budget_ms))
    return ReplicaReader(primary, replicas, max_lag_ms=max_lag_ms)


class ReplicaReader(Reader):
    """The primary's reader, lending replica connections while a replica is healthy."""

    def __init__(self, primary: Reader, replicas: Sequence[Reader], *,
                 max_lag_ms: int | None = None) -> None:
        super().__init__(primary.engine, primary.backend, keep=primary.keep,
                         keep_s=primary.keep_s, budget_ms=primary.budget_ms)
        self.listeners = primary.listeners
        self.max_lag_ms = max_lag_ms
        self.replicas = [Replica(make_url(r.engine.url).render_as_string(hide_password=True), r,
                                 healthy=max_lag_ms is None)  # lag unknown until checked
                         for r in replicas]
        for replica in self.replicas:
            replica.reader.listeners = self.listeners  # one statement log for every database
        self.turn = itertools.count()
        self.watcher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        healthy = sum(replica.healthy for replica in self.replicas)
        return (f"ReplicaReader({self.backend!r}, replicas={healthy}/{len(self.replicas)} "
                f"healthy, max_lag_ms={self.max_lag_ms})")

    def connection(self) -> ReadConnection:
        return RoutedConnection(self)

    def primary_connection(self) -> ReadConnection:
        return ReadConnection(self)

    def choose(self) -> Replica | None:
        """The next healthy replica, round-robin; None: read from the primary."""
        if self.watcher is None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())
        healthy = [replica for replica in self.replicas if replica.healthy]
        return healthy[next(self.turn) % len(healthy)] if healthy else None

    async def mark_down(self, replica: Replica, problem: str, *, lagging: bool = False) -> None:
        was_healthy = replica.healthy
        replica.healthy = False
        replica.problem = problem
        replica.retry_at = time.monotonic() + replica.backoff_s
        if not was_healthy:
            return
        logger.warning("replica %s is %s, reading from the primary: %s", replica.name,
                       "behind" if lagging else "down", problem)
        if not lagging:
            # Its pooled connections died with it, some mid-protocol (an error still being
            # read): a fresh pool when it returns, rather than one failure per stale one.
            await replica.reader.discard_idle()
            await replica.reader.engine.dispose()

    async def check(self, replica: Replica) -> None:
        """Ask ``replica`` for its lag (or just to answer); mark it up or down."""
        lag_sql = replica.reader.backend.replica_lag_sql or "SELECT 0"
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with replica.reader.engine.connect() as connection:
                    found = (await connection.execute(text(lag_sql))).scalar()
        except Exception as error:  # any failure means "down"; the log says which
            replica.backoff_s = min(replica.backoff_s * 2, MAX_BACKOFF_S)
            await self.mark_down(replica, f"{type(error).__name__}: {_first_line(error)}")
            return
        measured = replica.reader.backend.replica_lag_sql is not None
        replica.lag_ms = float(found) if measured and found is not None else None
        if self.max_lag_ms is not None and measured and (found is None
                                                         or float(found) > self.max_lag_ms):
            # Unknown (behind, with no transaction replayed yet) cannot be promised either.
            over = "unknown" if found is None else f"{float(found):.0f} ms"
            replica.backoff_s = MIN_BACKOFF_S
            await self.mark_down(replica, f"lag {over} over {self.max_lag_ms} ms", lagging=True)
            return
        if not replica.healthy:
            logger.warning("replica %s is back, reading from it again", replica.name)
        replica.healthy, replica.problem = True, ""
        replica.retry_at, replica.backoff_s = 0.0, MIN_BACKOFF_S

    async def check_all(self) -> list[dict[str, Any]]:
        """Check every replica now; their reports (``/readyz``)."""
        await asyncio.gather(*(self.check(replica) for replica in self.replicas))
        return [replica.report() for replica in self.replicas]

    async def _watch(self) -> None:
        while True:
            now = time.monotonic()
            due = [replica for replica in self.replicas
                   if (not replica.healthy and now >= replica.retry_at)
                   or (self.max_lag_ms is not None and now >= replica.retry_at)]
            await asyncio.gather(*(self.check(replica) for replica in due))
            for replica in due:
                if replica.healthy:
                    replica.retry_at = time.monotonic() + LAG_CHECK_S
            await asyncio.sleep(MIN_BACKOFF_S)

    async def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None
        for replica in self.replicas:
            await replica.reader.close()
            await replica.reader.engine.dispose()
        await super().close()


class RoutedConnection(ReadConnection):
    """A connection of the next healthy replica; the primary's when the replica fails."""

    def __init__(self, router: ReplicaReader) -> None:
        super().__init__(router)
        self.router = router
        self.replica: Replica | None = None
        self.inner: ReadConnection | None = None

    async def __aenter__(self) -> RoutedConnection:
        self.replica = self.router.choose()
        while self.replica is not None:
            try:
                self.inner = await self.replica.reader.connection().__aenter__()
                return self
            except DatabaseBusy:
                raise
            except DatabaseUnavailable as error:
                await self.router.mark_down(self.replica, str(error))
                self.replica = self.router.choose()
        self.inner = await self.router.primary_connection().__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            await inner.__aexit__(exc_type, exc, traceback)

    async def fetch(self, statement: CompiledStatement, values: Mapping[str, Any],
                    budget_ms: int | None = None) -> Sequence[Sequence[Any]]:
        assert self.inner is not None, "fetch outside 'async with'"
        try:
            return await self.inner.fetch(statement, values, budget_ms)
        except Exception as error:
            if self.replica is None or not self._replica_failed(error):
                raise
            await self.router.mark_down(self.replica,
                                        f"{type(error).__name__}: {_first_line(error)}")
            await self._to_primary(error)
        return await self.inner.fetch(statement, values, budget_ms)

    def _replica_failed(self, error: Exception) -> bool:
        if isinstance(error, DatabaseBusy):
            return False
        assert self.replica is not None
        return (isinstance(error, DatabaseUnavailable)
                or self.replica.reader.backend.replica_failed(error))

    async def _to_primary(self, error: Exception) -> None:
        failed, self.inner, self.replica = self.inner, None, None
        if failed is not None:
            if failed.raw is not None:  # possibly mid-protocol: never back to the pool
                await greenlet_spawn(failed.raw.invalidate, error)
                failed.raw = None
            await failed.__aexit__(type(error), error, error.__traceback__)
        self.inner = await self.router.primary_connection().__aenter__()


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else ""
