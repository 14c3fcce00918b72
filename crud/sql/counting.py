"""Count policies: how a list's ``total`` is found, and how honest it is.

Policies, dearest first: ``exact`` (``COUNT(*)``, optionally under a time budget that falls
back to the next policy), ``capped: N`` (count at most N+1 rows; beyond N the total is a
lower bound), ``estimated`` (PostgreSQL's planner estimate from ``EXPLAIN``: no scan; other
databases count exactly up to a cap) and ``none``. Every answer says its kind in the
``Total-Count-Kind`` header: ``exact``, ``estimated``, ``lower-bound`` or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from crud.config.registry import CountPolicy
from crud.http.errors import InvalidParameter, ParameterError
from crud.sql.budgets import (
    STATEMENT_TIMEOUT_OPTION,
    install_statement_budgets,
    is_timeout,
    set_local_timeout,
)
from crud.sql.query import ListPlan, StatementBuilder

__all__ = ["COUNT_KINDS", "TOTAL_KINDS", "Counter", "Total", "TotalKind"]

TotalKind = Literal["exact", "estimated", "lower-bound", "none"]
TOTAL_KINDS: tuple[TotalKind, ...] = ("exact", "estimated", "lower-bound", "none")
COUNT_KINDS = ("none", "estimated", "exact")
# The cap an `estimated` policy counts up to where the database has no planner estimate.
ESTIMATE_CAP = 10_000


@dataclass(frozen=True)
class Total:
    """The ``total`` of a list and how far to trust it."""

    value: int | None
    kind: TotalKind


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` with the select's own bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


class Counter:
    """Finds totals for one resource under its configured policy."""

    def __init__(self, builder: StatementBuilder, policy: CountPolicy,
                 engine: AsyncEngine) -> None:
        self.builder = builder
        self.policy = policy
        self.dialect = builder.dialect
        self.rank = _rank(policy)
        if policy.timeout_ms is not None:
            install_statement_budgets(engine)

    @property
    def cheaper_kinds(self) -> list[str]:
        """The ``?count=`` values this list accepts."""
        return [kind for kind in COUNT_KINDS
                if _rank(CountPolicy(kind=kind)) <= self.rank]

    def request(self, asked: str | None) -> CountPolicy:
        """The policy for ``?count=``; asking for a dearer count than configured is a 422."""
        if asked is None:
            return self.policy
        if asked not in COUNT_KINDS:
            raise _bad_count(f"expected one of {', '.join(COUNT_KINDS)}, got {asked!r}")
        wanted = CountPolicy(kind=asked)
        if _rank(wanted) > self.rank:
            raise _bad_count(f"{asked!r} costs more than this list allows "
                             f"(configured: {_describe(self.policy)}); ask for a cheaper one")
        return self.policy if _rank(wanted) == self.rank else wanted

    async def total(self, connection: AsyncConnection, plan: ListPlan, *, returned: int,
                    position: int, limit: int | None = None,
                    policy: CountPolicy | None = None) -> Total:
        """The total of ``plan``'s rows, given a page of ``returned`` rows at ``position``."""
        policy = policy or self.policy
        # A short page that is not past the end tells the total: no statement needed.
        if returned < (limit or plan.limit) and (returned > 0 or position == 0):
            return Total(position + returned, "exact")
        return await self.count(connection, plan, policy)

    async def count(self, connection: AsyncConnection, plan: ListPlan,
                    policy: CountPolicy) -> Total:
        if policy.kind == "none":
            return Total(None, "none")
        if policy.kind == "estimated":
            return await self._estimated(connection, plan, policy)
        if policy.cap is not None:
            return await self._capped(connection, plan, policy.cap)
        if policy.timeout_ms is not None:
            return await self._exact_within(connection, plan, policy)
        return Total(await self._exact(connection, plan), "exact")

    async def _exact(self, connection: AsyncConnection, plan: ListPlan) -> int:
        return int((await connection.execute(self.builder.count(plan))).scalar_one())

    async def _exact_within(self, connection: AsyncConnection, plan: ListPlan,
                            policy: CountPolicy) -> Total:
        statement = self.builder.count(plan)
        timeout = policy.timeout_ms
        if self.dialect == "postgresql":
            # The timeout lasts until the transaction ends, which is right after the count.
            await set_local_timeout(connection, int(timeout or 0))
        else:
            statement = statement.execution_options(**{STATEMENT_TIMEOUT_OPTION: timeout})
        try:
            return Total(int((await connection.execute(statement)).scalar_one()), "exact")
        except DBAPIError as error:
            if not is_timeout(error):
                raise
        # A failed statement aborts a PostgreSQL transaction: start a fresh one.
        await connection.rollback()
        if self.dialect == "postgresql":
            return await self._estimated(connection, plan, CountPolicy(kind="estimated"))
        # Elsewhere the next cheaper count is another scan that would run out of time too.
        return Total(None, "none")

    def _rows_of(self, plan: ListPlan) -> Select[Any]:
        """The filtered rows, one constant column each: what a count counts."""
        return self.builder.count(plan).with_only_columns(literal_column("1"))

    async def _capped(self, connection: AsyncConnection, plan: ListPlan, cap: int) -> Total:
        inner = self._rows_of(plan).limit(cap + 1).subquery()
        statement = select(func.count()).select_from(inner)
        found = int((await connection.execute(statement)).scalar_one())
        return Total(cap, "lower-bound") if found > cap else Total(found, "exact")

    async def _estimated(self, connection: AsyncConnection, plan: ListPlan,
                         policy: CountPolicy) -> Total:
        if self.dialect != "postgresql":
            return await self._capped(connection, plan, policy.cap or ESTIMATE_CAP)
        raw = (await connection.execute(_Explain(self._rows_of(plan)))).scalar_one()
        document = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        return Total(int(document[0]["Plan"]["Plan Rows"]), "estimated")


def _rank(policy: CountPolicy) -> int:
    if policy.kind == "none":
        return 0
    if policy.kind == "estimated":
        return 1
    return 2 if policy.cap is not None else 3


def _describe(policy: CountPolicy) -> str:
    return f"capped: {policy.cap}" if policy.kind == "exact" and policy.cap else policy.kind


def _bad_count(message: str) -> InvalidParameter:
    return InvalidParameter(f"count: {message}", errors=[ParameterError("count", message)])
