"""PostgreSQL behind PgBouncer in transaction pooling mode: a URL with ``?pgbouncer=true``.

Consecutive statements of one client connection may run on different server connections,
and PgBouncer (1.18 on Debian 12; prepared statements only from 1.21) neither forwards
startup parameters other than a few nor keeps prepared statements for a client. So nothing
is set per session: each statement runs in its own transaction, ``BEGIN READ ONLY`` with
``SET LOCAL`` budget and JIT in the same round trip, on an unnamed statement (asyncpg's
statement cache off), then ``COMMIT``: four round trips where a direct connection takes
one (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import ArgumentError

from crud.sql.backends import Backend, EngineArguments, PostgreSQL, Rows, backend_for

__all__ = ["PGBOUNCER_OPTION", "PgBouncer", "pooled_backend", "without_option"]

PGBOUNCER_OPTION = "pgbouncer"
_TRUE = frozenset({"true", "1", "yes", "on", "transaction"})


class PgBouncer(PostgreSQL):
    """PostgreSQL behind PgBouncer in transaction pooling mode (``?pgbouncer=true``).

    Consecutive statements of one client connection may run on different server
    connections, and PgBouncer (before 1.21) neither forwards startup parameters nor keeps
    prepared statements. So nothing is set per session: each statement runs in its own
    transaction, ``BEGIN READ ONLY`` with ``SET LOCAL`` budget and JIT in the same round
    trip, on an unnamed statement (asyncpg's statement cache off), then ``COMMIT``.
    """

    session_budget = False  # every statement carries the budget: SET LOCAL, not a session

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        # application_name is one of the startup parameters PgBouncer passes on.
        arguments = EngineArguments(connect_args={
            "server_settings": {"application_name": "crud"},
            # Unnamed statements, re-parsed with each execution: nothing to clash or leak
            # on a server connection that another client gets next.
            "statement_cache_size": 0, "prepared_statement_cache_size": 0})
        if read_only:
            arguments.options["isolation_level"] = "AUTOCOMMIT"
        return arguments

    async def fetch(self, connection: Any, sql: str, args: Sequence[Any],
                    budget_ms: int | None) -> tuple[Rows, tuple[Any, ...] | None]:
        driver = connection.driver_connection
        setup = "BEGIN READ ONLY; SET LOCAL jit = off"
        if budget_ms:
            setup += f"; SET LOCAL statement_timeout = {int(budget_ms)}"
        await driver.execute(setup)
        try:
            prepared = await driver.prepare(sql)
            rows = await prepared.fetch(*args)
        except BaseException:
            if not driver.is_closed() and driver.is_in_transaction():
                await driver.execute("ROLLBACK")
            raise
        await driver.execute("COMMIT")
        return rows, tuple(attribute.type.oid for attribute in prepared.get_attributes())


def without_option(url: URL) -> tuple[URL, bool]:
    """``url`` without ``?pgbouncer=...`` (asyncpg would refuse it), and whether it was on."""
    value = url.query.get(PGBOUNCER_OPTION)
    if value is None:
        return url, False
    if isinstance(value, tuple):
        value = value[-1]
    return url.difference_update_query([PGBOUNCER_OPTION]), value.lower() in _TRUE


def pooled_backend(dialect: Dialect, pgbouncer: bool) -> Backend:
    """The dialect's backend; the PgBouncer variant of PostgreSQL's when ``pgbouncer``.

    ``ArgumentError`` (what SQLAlchemy raises for a URL it cannot use) for another database.
    """
    backend = backend_for(dialect)
    if not pgbouncer:
        return backend
    if not isinstance(backend, PostgreSQL):
        raise ArgumentError(f"{PGBOUNCER_OPTION}=true applies to postgresql+asyncpg:// URLs, "
                         f"not {dialect.name}+{dialect.driver}")
    return PgBouncer(dialect)
