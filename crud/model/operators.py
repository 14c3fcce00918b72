"""The filter operators, as a table: name, query suffix, value shape and the types they fit.

The registry's ``filters:`` names operators from here; a pairing that does not fit a
field's type (``ilike`` on an integer) is a registry error at load, never a request-time
surprise. ``method`` is the comparator called on the filter target, in fastapi-filter's
convention (see ``crud.http.filtering``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["OPERATORS", "OperatorSpec", "ValueShape", "param_name"]

ValueShape = Literal["scalar", "list", "bool", "pattern"]

_ORDERED = frozenset({"string", "integer", "number", "datetime", "date", "time"})
_EQUATABLE = _ORDERED | {"boolean", "enum", "uuid"}
_ANY = _EQUATABLE | {"json"}


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    shape: ValueShape
    kinds: frozenset[str]
    description: str

    @property
    def suffix(self) -> str:
        return "" if self.name == "eq" else f"__{self.name}"


OPERATORS: dict[str, OperatorSpec] = {
    spec.name: spec
    for spec in (
        OperatorSpec("eq", "scalar", _EQUATABLE, "equal to"),
        OperatorSpec("neq", "scalar", _EQUATABLE, "not equal to"),
        OperatorSpec("gt", "scalar", _ORDERED, "greater than"),
        OperatorSpec("gte", "scalar", _ORDERED, "greater than or equal to"),
        OperatorSpec("lt", "scalar", _ORDERED, "less than"),
        OperatorSpec("lte", "scalar", _ORDERED, "less than or equal to"),
        OperatorSpec("in", "list", _EQUATABLE, "one of the comma-separated values"),
        OperatorSpec("not_in", "list", _EQUATABLE, "none of the comma-separated values"),
        OperatorSpec(
            "like", "pattern", frozenset({"string"}),
            "matches the pattern, case-sensitive (% and _ are wildcards; "
            "without %, matches anywhere in the value)",
        ),
        OperatorSpec(
            "ilike", "pattern", frozenset({"string"}),
            "matches the pattern, ignoring case (% and _ are wildcards; "
            "without %, matches anywhere in the value)",
        ),
        OperatorSpec("isnull", "bool", _ANY, "true: the value is null; false: it is not"),
    )
}


def param_name(field: str, operator: str) -> str:
    return f"{field}{OPERATORS[operator].suffix}"
