"""The filter operators, as one table: a row per operator, from its name to its SQL.

A row says which query suffix it answers (``status__in``), what value it takes (its
``shape``: one value, a list, a flag, a LIKE pattern, a literal text), which field kinds it
applies to, how it reads in the docs, and the SQL comparison it makes. The registry's
``filters:`` names operators from here, and a pairing that does not fit a field's type
(``ilike`` on an integer) is a registry error at load, never a request-time surprise.

The comparison is built against a ``Term``: the column, plus the bound parameter(s) the
statement builder made for this filter (``crud.sql.criteria``), so one compiled statement
serves every value of the same shape. ``negated`` rows match where the positive comparison
does not hold; on a to-many field that is "no related row matches" (``NOT EXISTS``), which
is what makes ``tags__neq=x`` mean "has no tag x" rather than "has a tag other than x".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "LIKE_ESCAPE",
    "LIKE_SHAPES",
    "LIST_SHAPES",
    "OPERATORS",
    "Operator",
    "Pattern",
    "Term",
    "ValueShape",
    "escape_like",
    "param_name",
]

# scalar: one value of the field's type; list: comma-separated values; flag: true/false;
# pattern: a LIKE pattern (or a literal substring); text: a literal text; items:
# comma-separated elements of an array field (texts for JSON arrays).
ValueShape = Literal["scalar", "list", "flag", "pattern", "text", "items"]
# Shapes whose value is a comma-separated list, bound as ``in_list`` binds one.
LIST_SHAPES = frozenset({"list", "items"})
# Shapes matched by LIKE: against the text as served (a CHAR(n) without its pad).
LIKE_SHAPES = frozenset({"pattern", "text"})

_ORDERED = frozenset({"string", "integer", "number", "datetime", "date", "time"})
_EQUATABLE = _ORDERED | {"boolean", "enum", "uuid"}
_TEXT = frozenset({"string"})
# JSON columns holding arrays of texts, and PostgreSQL ARRAY columns.
_ARRAYS = frozenset({"json", "array"})
_ANY = _EQUATABLE | _ARRAYS

# The escape character of literal text in LIKE patterns this API builds itself.
LIKE_ESCAPE = "/"


@dataclass(frozen=True)
class Pattern:
    """A ``like``/``ilike`` value: the LIKE pattern and the escape character it uses."""

    text: str
    escape: str


class Term(Protocol):
    """One filter of one statement shape, as the statement builder binds it."""

    @property
    def parameter(self) -> ColumnElement[Any]:
        """The bound parameter of a one-value filter, typed as the column."""

    @property
    def variant(self) -> Hashable:
        """What of the value shapes the SQL: a pattern's escape, a flag, a list's length."""

    def in_list(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """``column`` is one of the list's bound values."""

    def exact_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """``column`` compared character by character, whatever its collation's case rules."""

    def array_contains(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """The array in ``column`` holds every one of the list's values."""

    def array_overlaps(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """The array in ``column`` holds at least one of the list's values."""


Comparison = Callable[[ColumnElement[Any], Term], ColumnElement[bool]]


@dataclass(frozen=True)
class Operator:
    name: str
    shape: ValueShape
    kinds: frozenset[str]
    description: str
    compare: Comparison
    # True: the filter matches where ``compare`` does not hold. "flag": it is the value
    # (``isnull=true`` is the negation of "is not null").
    negated: bool | Literal["flag"] = False
    # The value as bound: what the client wrote, or a text derived from it (a prefix).
    bind: Callable[[Any], Any] = lambda value: value

    @property
    def suffix(self) -> str:
        return "" if self.name == "eq" else f"__{self.name}"

    def negates(self, value: Any) -> bool:
        return bool(value) if self.negated == "flag" else bool(self.negated)

    def __repr__(self) -> str:
        return f"Operator({self.name!r}, {self.shape})"


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped by ``LIKE_ESCAPE``: it matches literally."""
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", f"{LIKE_ESCAPE}%") \
        .replace("_", f"{LIKE_ESCAPE}_")


def _like(column: ColumnElement[Any], term: Term) -> ColumnElement[bool]:
    return column.like(term.parameter, escape=str(term.variant))


def _ilike(column: ColumnElement[Any], term: Term) -> ColumnElement[bool]:
    return column.ilike(term.parameter, escape=str(term.variant))


def _starts_with(column: ColumnElement[Any], term: Term) -> ColumnElement[bool]:
    # LIKE 'prefix%' with the prefix escaped: an index on the column can serve it
    # (PostgreSQL needs text_pattern_ops or the C collation for that).
    return term.exact_text(column).like(term.parameter, escape=LIKE_ESCAPE)


OPERATORS: dict[str, Operator] = {
    operator.name: operator
    for operator in (
        Operator("eq", "scalar", _EQUATABLE, "equal to", lambda c, t: c == t.parameter),
        Operator("neq", "scalar", _EQUATABLE, "not equal to", lambda c, t: c == t.parameter,
                 negated=True),
        Operator("gt", "scalar", _ORDERED, "greater than", lambda c, t: c > t.parameter),
        Operator("gte", "scalar", _ORDERED, "greater than or equal to",
                 lambda c, t: c >= t.parameter),
        Operator("lt", "scalar", _ORDERED, "less than", lambda c, t: c < t.parameter),
        Operator("lte", "scalar", _ORDERED, "less than or equal to",
                 lambda c, t: c <= t.parameter),
        Operator("in", "list", _EQUATABLE, "one of the comma-separated values",
                 lambda c, t: t.in_list(c)),
        Operator("not_in", "list", _EQUATABLE, "none of the comma-separated values",
                 lambda c, t: t.in_list(c), negated=True),
        Operator("like", "pattern", _TEXT,
                 "matches the pattern, case-sensitive (% and _ are wildcards; without %, "
                 "matches anywhere in the value)", _like),
        Operator("ilike", "pattern", _TEXT,
                 "matches the pattern, ignoring case (% and _ are wildcards; without %, "
                 "matches anywhere in the value)", _ilike),
        Operator("startswith", "text", _TEXT,
                 "starts with the text, case-sensitive (% and _ match literally)",
                 _starts_with, bind=lambda prefix: f"{escape_like(prefix)}%"),
        Operator("contains", "items", _ARRAYS,
                 "the array holds every one of the comma-separated values",
                 lambda c, t: t.array_contains(c)),
        Operator("overlaps", "items", _ARRAYS,
                 "the array holds at least one of the comma-separated values",
                 lambda c, t: t.array_overlaps(c)),
        Operator("isnull", "flag", _ANY, "true: the value is null; false: it is not",
                 lambda c, t: c.is_not(None), negated="flag"),
    )
}


def param_name(field: str, operator: str) -> str:
    return f"{field}{OPERATORS[operator].suffix}"
