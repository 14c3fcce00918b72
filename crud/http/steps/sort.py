"""Sorting: ``order_by=-a,b`` over the registry's sort keys; the primary key breaks ties."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from crud.http.errors import ParameterError
from crud.http.listquery import Given, Parameter, Step
from crud.model.binding import hint
from crud.model.resource import Resource, SortKey
from crud.sql.statements import OrderItem

__all__ = ["SortStep"]


class SortStep(Step[tuple[OrderItem, ...]]):
    """The order of a list: the client's ``order_by`` (or the default) plus the primary key."""

    names: ClassVar[tuple[str, ...]] = ("order_by",)  # the query parameters it may read

    def __init__(self, resource: Resource) -> None:
        self.keys = resource.sort
        self.choices = [f"{prefix}{name}" for name in resource.sort for prefix in ("", "-")]
        self.tiebreak = [(SortKey(leaf=leaf), False) for leaf in resource.primary_key]
        self.default = self.with_tiebreak(resource.default_sort)
        self.parameters = (self._parameter(resource),) if resource.sort else ()

    def __repr__(self) -> str:
        return f"SortStep({list(self.keys)})"

    def _parameter(self, resource: Resource) -> Parameter:
        default = ",".join(f"{'-' if desc else ''}{key.name}" for key, desc in resource.default_sort)
        return Parameter(
            "order_by", {"type": "array", "items": {"type": "string", "enum": self.choices},
                         "minItems": 1, "maxItems": len(resource.sort), "uniqueItems": True},
            "Comma-separated sort keys, each at most once; '-' sorts descending. The primary "
            f"key is always added last as a tie-breaker.{f' Default: {default}.' if default else ''}",
            repeatable=True, explode=False)

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        raw = given.get("order_by")
        if raw is None:
            return self.default
        # Exactly the documented enum: "key" or "-key" (no "+", no spaces, no "--").
        asked = [(item.removeprefix("-"), item.startswith("-")) for item in raw.split(",")]
        return self.order(asked, "order_by", errors)

    def order(self, asked: Sequence[tuple[str, bool]], parameter: str,
              errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        """``(key, descending)`` pairs as the order of a list; errors name ``parameter``."""
        order: list[OrderItem] = []
        seen: set[str] = set()
        for name, descending in asked:
            key = self.keys.get(name)
            if key is None:
                choices = ", ".join(self.choices) or "none"
                shown = f"-{name}" if descending and parameter == "order_by" else name
                errors.append(ParameterError(
                    parameter, f"cannot sort by {shown!r}{hint(name, list(self.keys))}; "
                               f"allowed: {choices}"))
            elif name in seen:
                errors.append(ParameterError(parameter, f"{name!r} given more than once"))
            else:
                seen.add(name)
                order.append((key, descending))
        return self.with_tiebreak(order)

    def with_tiebreak(self, order: list[OrderItem] | tuple[OrderItem, ...]) -> tuple[OrderItem, ...]:
        used = {key.name for key, _ in order}
        return (*order, *(item for item in self.tiebreak if item[0].name not in used))
