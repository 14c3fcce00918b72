"""The read path's connections: borrow one from the pool, run compiled statements, give it back.

The pool does not ping a connection before lending it (that was one more round trip per
request). A connection the database dropped while idle fails on its first statement
instead; the reader then discards it and runs the statement once more on a fresh one, so
a restarted database costs one failed attempt per stale connection, never a failed
request. Timeouts and outages leave as ``StatementTimeout`` and ``DatabaseUnavailable``;
the HTTP layer answers both with 503.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from crud.sql.backends import Backend
from crud.sql.compiled import CompiledStatement
from crud.sql.gate import Gate, pool_limits

__all__ = ["READ_PATH", "DatabaseBusy", "DatabaseUnavailable", "ReadConnection", "Reader",
           "StatementTimeout"]

StatementListener = Callable[[str, Sequence[Any]], None]
# How long past its budget a statement may go unanswered before the reader gives up on the
# database (a frozen server, a dead network path): the database's own cancellation of a
# statement over budget arrives well within it.
DEADLINE_MARGIN_S = 0.5
# Marks a pooled connection as used by the read path alone until it goes back to the pool,
# which then skips the read-only reset other users' connections get (``crud.sql.database``).
READ_PATH = "crud_read_path"


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or dropped the connection twice in a row."""


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection stayed busy for the pool's whole timeout."""


class StatementTimeout(Exception):
    """A statement ran past its time budget and was cancelled."""


class Reader:
    """Borrows connections from ``engine``'s pool and runs statements on ``backend``'s driver.

    Between requests it keeps up to ``keep`` connections itself, idle and outside any
    transaction: taking one is a list pop, where a pool checkout and return cost two
    greenlet hops and the pool's bookkeeping (a tenth of a detail request). A kept
    connection goes back to the pool after ``keep_s`` seconds, so the pool's recycling,
    and the pool's limits and timeout, still govern every connection.
    """

    def __init__(self, engine: AsyncEngine, backend: Backend, *, keep: int = 10,
                 keep_s: float = 300.0, budget_ms: int | None = None) -> None:
        self.engine = engine
        self.backend = backend
        self.keep = keep
        self.keep_s = keep_s
        # The API's statement budget: a statement given none still has a client-side deadline.
        self.budget_ms = budget_ms
        self.idle: list[tuple[float, Any]] = []  # (kept since, connection)
        # Requests take connections in arrival order (crud.sql.gate): one place per lent one.
        self.gate = Gate(*pool_limits(engine))
        # Called with (sql, arguments) before each statement: statement counts in tests,
        # anything that wants to watch the read path.
        self.listeners: list[StatementListener] = []
        # Closings of abandoned connections still waiting for their driver (SQLite's thread).
        self.closing: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return (f"Reader({self.backend!r}, {self.engine.url.render_as_string()!r}, "
                f"idle={len(self.idle)}/{self.keep})")

    def connection(self) -> ReadConnection:
        return ReadConnection(self)

    async def borrow(self) -> Any:
        now = time.monotonic()
        while self.idle:
            since, raw = self.idle.pop()
            if now - since < self.keep_s:
                return raw
            await greenlet_spawn(raw.close)
        try:
            async with asyncio.timeout(self.deadline_s(None)) as deadline:
                raw = await self.engine.raw_connection()
        except TimeoutError as error:
            if not deadline.expired():
                raise
            raise DatabaseUnavailable("the database did not answer while connecting") from error
        except PoolTimeout as error:
            raise DatabaseBusy("no connection became free within the pool timeout") from error
        # A raw checkout raises the driver's own errors, not SQLAlchemy's wrapped ones.
        except (DBAPIError, OSError, self.engine.dialect.loaded_dbapi.Error) as error:
            raise DatabaseUnavailable(str(error).splitlines()[0]) from error
        raw.info[READ_PATH] = True
        return raw

    def deadline_s(self, budget_ms: int | None) -> float | None:
        """How long to wait for the database's answer: the budget and a margin, or for ever."""
        budget = budget_ms or self.budget_ms
        return budget / 1000 + DEADLINE_MARGIN_S if budget else None

    async def give_back(self, raw: Any, since: float) -> None:
        if len(self.idle) < self.keep and not self.backend.in_transaction(raw):
            self.idle.append((since, raw))
        else:  # the pool resets it (a rollback) or closes it
            await greenlet_spawn(raw.close)

    def close_later(self, closing: Awaitable[None]) -> None:
        """Finish closing an abandoned connection once its driver lets go of it."""
        task = asyncio.ensure_future(closing)
        self.closing.add(task)  # a reference, or the task may be collected mid-way
        task.add_done_callback(self.closing.discard)

    async def discard_idle(self) -> None:
        idle, self.idle = self.idle, []
        for _since, raw in idle:
            await greenlet_spawn(raw.invalidate)

    async def close(self) -> None:
        """Return every kept connection to the pool (before the engine is disposed)."""
        idle, self.idle = self.idle, []
        for _since, raw in idle:
            await greenlet_spawn(raw.close)

    async def fetch(self, statement: CompiledStatement, values: Mapping[str, Any],
                    budget_ms: int | None = None) -> Sequence[Sequence[Any]]:
        """One statement on a connection of its own."""
        async with self.connection() as connection:
            return await connection.fetch(statement, values, budget_ms)


class ReadConnection:
    """One borrowed connection; ``async with reader.connection() as c: await c.fetch(...)``."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.backend = reader.backend
        self.raw: Any = None
        self.since = 0.0
        self.retried = False
        self.inside = False  # holds a place in the reader's gate

    async def __aenter__(self) -> ReadConnection:
        self.since = time.monotonic()
        try:
            await self.reader.gate.enter()
        except TimeoutError as error:
            raise DatabaseBusy("no connection became free within the pool timeout") from error
        self.inside = True
        try:
            self.raw = await self.reader.borrow()
        except BaseException:
            self._leave()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        raw, self.raw = self.raw, None
        try:
            if raw is None:
                return
            if exc is not None and not isinstance(exc, StatementTimeout):
                # A failure may have left the connection mid-protocol: let the pool reset it.
                await greenlet_spawn(raw.close)
            else:
                await self.reader.give_back(raw, self.since)
        finally:
            self._leave()

    def _leave(self) -> None:
        if self.inside:
            self.inside = False
            self.reader.gate.leave()

    async def fetch(self, statement: CompiledStatement, values: Mapping[str, Any],
                    budget_ms: int | None = None) -> Sequence[Sequence[Any]]:
        arguments = statement.arguments(values)
        for listener in self.reader.listeners:
            listener(statement.sql, arguments)
        while True:
            try:
                async with asyncio.timeout(self.reader.deadline_s(budget_ms)) as deadline:
                    rows, type_codes = await self.backend.fetch(self.raw, statement.sql,
                                                                arguments, budget_ms)
            except Exception as error:
                if isinstance(error, TimeoutError) and deadline.expired():
                    self._abandon(error)
                await self._recover(error)
                continue
            return statement.decode(rows, type_codes)

    def _abandon(self, error: TimeoutError) -> None:
        """No answer, not even the database's own timeout: drop the connection, answer 503."""
        closing = self.backend.abandon(self.raw, error)
        self.raw = None
        if closing is not None:
            self.reader.close_later(closing)
        raise DatabaseUnavailable("the database did not answer within the statement budget "
                                  "and its margin") from error

    async def _recover(self, error: Exception) -> None:
        """Raise what ``error`` means for the caller, or replace the connection for one retry."""
        if self.backend.is_timeout(error):
            raise StatementTimeout(str(error)) from error
        if self.backend.is_locked(error):
            raise DatabaseUnavailable(str(error)) from error
        if not self.backend.is_disconnect(error):
            raise error
        await greenlet_spawn(self.raw.invalidate, error)
        self.raw = None
        if self.retried:
            raise DatabaseUnavailable("the database dropped the connection") from error
        self.retried = True
        # The database went away: the kept connections are as stale as this one was.
        await self.reader.discard_idle()
        self.since = time.monotonic()
        self.raw = await self.reader.borrow()
