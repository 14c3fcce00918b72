"""Count policies: how a list's ``total`` is found, and how honest it is.

Policies, dearest first:

- ``exact``: ``COUNT(*)``; with ``timeout_ms`` it runs on its own under that budget and
  falls back to the planner's estimate (PostgreSQL) or to no count;
- ``capped: N``: count at most N+1 rows; beyond N the total is a lower bound;
- ``auto`` (the default): exact up to ``cap`` rows (10,000), and beyond it the table's
  row estimate for an unfiltered list on PostgreSQL (``pg_class.reltuples``). On PostgreSQL
  a filtered list of a table with more than ``cap`` rows counts up to ``PLANNER_FROM``
  (1,000) rows, and beyond asks the planner (``EXPLAIN``: no rows read); a view asks the
  planner first (PostgreSQL, MariaDB). Where the planner expects fewer than ``cap`` rows
  they are counted (capped). Elsewhere beyond the cap it is a lower bound. It never scans
  more than ``cap`` + 1 rows, so it never blocks a page;
- ``estimated``: PostgreSQL's planner estimate of the filtered rows (``EXPLAIN``, no scan);
  elsewhere exact up to a cap;
- ``none``.

Every policy but ``estimated`` on PostgreSQL and a budgeted ``exact`` is computed inside
the page statement (``count_columns``): one round trip for page and total. A short page
that does not start past the end is its own total, and the statement then skips the count
(a ``CASE`` the database evaluates lazily). Every answer says its kind in the
``Total-Count-Kind`` header: ``exact``, ``estimated``, ``lower-bound`` or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Select,
    and_,
    case,
    false,
    func,
    literal_column,
    null,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import ClauseElement, Executable

from crud.config.registry import CountPolicy
from crud.sql.backends import integer_parameter

__all__ = [
    "ASK_PLANNER",
    "AUTO_CAP",
    "COUNT_KINDS",
    "ESTIMATE_CAP",
    "PLANNER_FROM",
    "TOTAL_KINDS",
    "Explain",
    "InlineCount",
    "Total",
    "TotalKind",
    "count_columns",
    "inline_count",
    "rank",
    "read_total",
]

TotalKind = Literal["exact", "estimated", "lower-bound", "none"]
TOTAL_KINDS: tuple[TotalKind, ...] = ("exact", "estimated", "lower-bound", "none")
# What ``?count=`` may ask for, cheapest first.
COUNT_KINDS = ("none", "estimated", "auto", "exact")
# The cap an ``estimated`` policy counts up to where the database has no planner estimate.
ESTIMATE_CAP = 10_000
# ``auto``'s default: exact up to this many rows.
AUTO_CAP = 10_000
# What the page statement's ``crud_total`` says when only the planner can answer cheaply.
ASK_PLANNER = -1
# A filtered list of a big table counts this many rows at most (about what a page costs;
# fewer under a smaller cap); beyond, the planner answers.
PLANNER_FROM = 1_000


@dataclass(frozen=True)
class Total:
    """The ``total`` of a list and how far to trust it."""

    value: int | None
    kind: TotalKind


@dataclass(frozen=True)
class InlineCount:
    """A total computed by the page statement itself (part of the statement's shape)."""

    kind: Literal["exact", "capped", "auto"]
    cap: int | None = None
    # The page starts the list: an empty page there is a total of 0 too.
    first: bool = True


def rank(policy: CountPolicy) -> int:
    """How dear a policy is; a request may only ask for one of the same rank or lower."""
    if policy.kind == "none":
        return 0
    if policy.kind == "estimated":
        return 1
    if policy.kind == "auto" or policy.cap is not None:
        return 2
    return 3


def inline_count(policy: CountPolicy, *, postgresql: bool, first: bool,
                 view: bool = False) -> InlineCount | None:
    """The in-statement count for ``policy``; None when it needs a statement of its own.

    ``view``: the rows come from a view, whose count would run the view's joins, on a
    database with a plan estimate: ``auto`` then asks the planner after the page (``Pages``).
    """
    if policy.kind == "auto":
        return None if view else InlineCount("auto", policy.cap or AUTO_CAP, first)
    if policy.kind == "estimated":
        return None if postgresql else InlineCount("capped", policy.cap or ESTIMATE_CAP, first)
    if policy.kind == "exact" and policy.timeout_ms is None:
        if policy.cap is not None:
            return InlineCount("capped", policy.cap, first)
        return InlineCount("exact", None, first)
    return None


def count_columns(count: InlineCount, rows: Select[Any], *, everything: bool,
                  estimate: ColumnElement[Any] | None,
                  page: Any = None) -> list[ColumnElement[Any]]:
    """``crud_total`` (and for ``auto`` over a whole table, ``crud_estimated``) columns.

    ``rows`` are the filtered rows without the page's cut (a SELECT whose columns do not
    matter). Given ``page`` (the page's CTE), ``crud_total`` is NULL when the page is its
    own total: the database then never runs the count.
    """
    if count.kind == "exact":
        counted: ColumnElement[Any] = rows.with_only_columns(func.count()).scalar_subquery()
    else:
        assert count.cap is not None
        counted = _capped(rows, count.cap)
    whens: list[tuple[Any, Any]] = []
    flags: list[tuple[Any, Any]] = []
    if page is not None:
        returned = select(func.count()).select_from(page).scalar_subquery()
        limit = integer_parameter("limit")
        short = (returned < limit) if count.first else and_(returned > 0, returned < limit)
        whens.append((short, null()))
        flags.append((short, false()))
    if count.kind != "auto" or estimate is None:
        return [_case(whens, counted).label("crud_total")]
    assert count.cap is not None
    big = estimate >= count.cap
    if not everything:  # filtering a big table: a page's worth of rows, then the planner
        limit = min(count.cap, PLANNER_FROM)
        few = _capped(rows, limit, "few")
        asked = case((few > limit, literal_column(str(ASK_PLANNER))), else_=few)
        return [_case([*whens, (big, asked)], counted).label("crud_total")]
    return [_case([*whens, (big, estimate)], counted).label("crud_total"),
            _case([*flags, (big, true())], false()).label("crud_estimated")]


def _capped(rows: Select[Any], cap: int, name: str = "capped") -> ColumnElement[Any]:
    """How many of ``rows`` there are, counting at most ``cap`` + 1."""
    capped = rows.with_only_columns(literal_column("1")).limit(cap + 1).subquery(name)
    return select(func.count()).select_from(capped).scalar_subquery()


def _case(whens: list[tuple[Any, Any]], otherwise: Any) -> ColumnElement[Any]:
    return case(*whens, else_=otherwise) if whens else otherwise


def read_total(count: InlineCount, row: Any, *, columns: int, returned: int,
               position: int) -> Total:
    """The total the page statement's count columns (after ``columns`` row columns) say."""
    value = row[columns]
    if value is None:
        return Total(position + returned, "exact")
    if value == ASK_PLANNER:
        return Total(None, "estimated")  # the caller asks the planner (``Pages``)
    if count.kind == "auto" and len(row) > columns + 1 and row[columns + 1]:
        return Total(int(value), "estimated")
    if count.cap is not None and value > count.cap:
        return Total(count.cap, "lower-bound")
    return Total(int(value), "exact")


class Explain(Executable, ClauseElement):
    """``EXPLAIN <select>`` asking for a JSON plan, with the select's own bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Select[Any], prefix: str = "EXPLAIN (FORMAT JSON) ") -> None:
        self.statement = statement
        self.prefix = prefix  # the backend's ``explain_prefix``

    @property
    def selected_columns(self) -> list[Any]:
        return []


@compiles(Explain)
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return element.prefix + compiler.process(element.statement, **kw)
