"""Statement time budgets: a slow query ends as a 503 within its budget, the connection lives.

The API-wide budget (``api.statement_timeout_ms``) is a session default set once per
connection by ``crud.sql.database.make_engine`` on PostgreSQL and MariaDB: zero statements per
request. A resource with its own ``statement_timeout_ms`` gets an engine view carrying it
as an execution option, honoured per dialect without extra round trips where possible:

- PostgreSQL: one ``SET LOCAL statement_timeout`` at the start of the request's
  transaction (it ends with the transaction, so the pooled connection is unchanged);
- MariaDB: each SELECT is prefixed ``SET STATEMENT max_statement_time=N FOR`` (no extra
  statement; on MySQL the ``MAX_EXECUTION_TIME(N)`` optimizer hint instead);
- SQLite, which has no timeout of its own: a timer calls ``sqlite3.Connection.interrupt()``
  when a statement outlives its budget (the API default applies here too).

``statement.execution_options(crud_statement_timeout_ms=...)`` budgets one statement alone
on MariaDB and SQLite; ``crud.sql.counting`` uses it for counts under a time budget.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "STATEMENT_TIMEOUT_OPTION",
    "TIMEOUT_OPTION",
    "budget_engine",
    "install_statement_budgets",
    "is_timeout",
    "set_local_timeout",
    "start_budget",
]

TIMEOUT_OPTION = "crud_timeout_ms"
# Connection options win over statement options when SQLAlchemy merges them: one statement's
# own budget needs its own key.
STATEMENT_TIMEOUT_OPTION = "crud_statement_timeout_ms"
_TIMER = "crud_interrupt_timer"


def budget_engine(engine: AsyncEngine, resource_ms: int | None,
                  api_ms: int | None) -> AsyncEngine:
    """``engine``, or a view of it whose statements run under ``resource_ms``."""
    if engine.dialect.name == "sqlite":
        budget = resource_ms or api_ms
    else:
        budget = resource_ms if resource_ms and resource_ms != api_ms else None
    if budget is None:
        return engine
    install_statement_budgets(engine)
    return engine.execution_options(**{TIMEOUT_OPTION: budget})


async def start_budget(connection: AsyncConnection) -> None:
    """Apply a resource's budget to a freshly checked-out connection (PostgreSQL only)."""
    budget = connection.sync_connection.get_execution_options().get(TIMEOUT_OPTION) \
        if connection.sync_connection is not None else None
    if budget and connection.dialect.name == "postgresql":
        await set_local_timeout(connection, int(budget))


async def set_local_timeout(connection: AsyncConnection, budget_ms: int) -> None:
    """PostgreSQL: a statement timeout for the rest of this connection's checkout.

    Read-only engines run in autocommit (``crud.sql.database``), where ``SET LOCAL`` would do
    nothing; this checkout is switched to a real transaction first. The pool restores the
    isolation level, and the transaction's end drops the timeout, when it is returned.
    """
    if connection.in_transaction():
        await connection.commit()
    await connection.execution_options(isolation_level="READ COMMITTED")
    await connection.execute(text(f"SET LOCAL statement_timeout = {budget_ms}"))


def is_timeout(error: DBAPIError) -> bool:
    """Whether the database cancelled a statement for running over its time budget."""
    text_ = f"{type(error.orig).__name__} {error.orig}".lower()
    return any(marker in text_ for marker in (
        "querycancelederror", "statement timeout", "max_statement_time", "interrupted"))


def install_statement_budgets(engine: AsyncEngine) -> None:
    """Honour ``crud_timeout_ms`` options on MariaDB and SQLite (PostgreSQL needs nothing)."""
    target = engine.sync_engine
    if engine.dialect.name == "sqlite":
        _listen(target, "before_cursor_execute", _arm_interrupt)
        _listen(target, "after_cursor_execute", _disarm_interrupt)
        _listen(target, "handle_error", _disarm_on_error)
    elif engine.dialect.name in {"mysql", "mariadb"}:
        _listen(target, "before_cursor_execute", _prefix_max_statement_time, retval=True)


def _listen(target: Any, name: str, function: Any, **options: Any) -> None:
    if not event.contains(target, name, function):
        event.listen(target, name, function, **options)


def _budget_of(context: Any) -> int | None:
    if context is None:
        return None
    options = context.execution_options
    budget = options.get(STATEMENT_TIMEOUT_OPTION) or options.get(TIMEOUT_OPTION)
    return int(budget) if budget else None


def _prefix_max_statement_time(conn: Connection, _cursor: Any, statement: str,
                               parameters: Any, context: Any,
                               _executemany: bool) -> tuple[str, Any]:
    budget = _budget_of(context)
    text_ = statement.lstrip()
    if not budget or text_[:6].upper() != "SELECT":
        return statement, parameters
    if getattr(conn.dialect, "is_mariadb", False):
        return f"SET STATEMENT max_statement_time={budget / 1000:.3f} FOR {text_}", parameters
    # MySQL has no SET STATEMENT for this; its optimizer hint does the same for a SELECT.
    return f"SELECT /*+ MAX_EXECUTION_TIME({budget}) */{text_[6:]}", parameters


def _arm_interrupt(conn: Connection, _cursor: Any, _statement: str, _parameters: Any,
                   context: Any, _executemany: bool) -> None:
    budget = _budget_of(context)
    if not budget:
        return
    # aiosqlite keeps the sqlite3 connection as `_conn`; interrupt() is the one sqlite3
    # call documented as safe from another thread, which is exactly what is needed here.
    raw = conn.connection.driver_connection._conn  # type: ignore[union-attr]
    timer = asyncio.get_running_loop().call_later(budget / 1000, raw.interrupt)
    conn.info[_TIMER] = timer


def _disarm_interrupt(conn: Connection, *_args: Any) -> None:
    timer = conn.info.pop(_TIMER, None)
    if timer is not None:
        timer.cancel()


def _disarm_on_error(context: ExceptionContext) -> None:
    if context.connection is not None:
        _disarm_interrupt(context.connection)
