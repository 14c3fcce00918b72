"""Sorting: ``order_by=-a,b`` over the registry's sort keys; the primary key breaks ties.

A ranked search (``search: {mode: full_text}``) adds ``search_rank``, the relevance to
``search``: it needs ``search``, and is the default order while ``search`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from crud.http.errors import ParameterError
from crud.http.listquery import Given, Parameter, Step, order_by_schema
from crud.model.binding import hint
from crud.model.resource import SEARCH_RANK, Resource, SortKey
from crud.sql.requests import OrderItem

__all__ = ["SortStep"]

_PLACEMENTS = {"nulls_first": True, "nulls_last": False}


class SortStep(Step[tuple[OrderItem, ...]]):
    """The order of a list: the client's ``order_by`` (or the default) plus the primary key."""

    names: ClassVar[tuple[str, ...]] = ("order_by",)  # the query parameters it may read

    def __init__(self, resource: Resource) -> None:
        self.rank = resource.rank
        self.keys = dict(resource.sort)
        if self.rank is not None:
            self.keys[SEARCH_RANK] = self.rank
        self.choices = [f"{prefix}{name}" for name in self.keys for prefix in ("", "-")]
        self.tiebreak = [(SortKey(leaf=leaf), False) for leaf in resource.primary_key]
        self.default = self.with_tiebreak(resource.default_sort)
        self.ranked = (self.with_tiebreak([(self.rank, True)]) if self.rank is not None
                       else self.default)
        self.parameters = (self._parameter(resource),) if self.keys else ()

    def __repr__(self) -> str:
        return f"SortStep({list(self.keys)})"

    def _parameter(self, resource: Resource) -> Parameter:
        default = ",".join(f"{'-' if desc else ''}{key.name}" for key, desc in resource.default_sort)
        ranked = (f" `{SEARCH_RANK}` is the relevance to `search` (only with `search`); "
                  f"while `search` is given the default is -{SEARCH_RANK}."
                  if self.rank is not None else "")
        return Parameter(
            "order_by", order_by_schema(list(self.keys), max_items=len(self.keys),
                                        nullable=[name for name, key in self.keys.items()
                                                  if key.leaf.nullable]),
            "Comma-separated sort keys, each at most once; '-' sorts descending. NULLs come "
            "last ascending and first descending, unless the key ends in ':nulls_first' or "
            "':nulls_last' (-created:nulls_last: newest first, no date last). The primary "
            f"key is always added last as a tie-breaker.{f' Default: {default}.' if default else ''}"
            f"{ranked}",
            repeatable=True, explode=False)

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        raw = given.get("order_by")
        searched = bool(given.get("search"))
        if raw is None:
            return self.ranked if searched else self.default
        # Exactly the documented enum: "key" or "-key" (no "+", no spaces, no "--"), each
        # maybe with ":nulls_first" or ":nulls_last".
        asked, placements = [], {}
        for item in raw.split(","):
            name, _, placement = item.removeprefix("-").partition(":")
            asked.append((name, item.startswith("-")))
            if placement:
                placements[name] = placement
        order = self.order(asked, "order_by", errors, searched=searched)
        return self._placed(order, placements, errors) if placements else order

    def _placed(self, order: tuple[OrderItem, ...], placements: dict[str, str],
                errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        """``order`` with the NULLs placements the client chose (``-a:nulls_last``)."""
        for name, placement in placements.items():
            key = self.keys.get(name)
            if placement not in _PLACEMENTS:
                errors.append(ParameterError("order_by", f"'{name}:{placement}': after ':' "
                                             "give nulls_first or nulls_last"))
            elif key is not None and not key.leaf.nullable:
                errors.append(ParameterError("order_by", f"'{name}' is never null: "
                                             f"':{placement}' applies to keys that may be"))
        return tuple((replace(key, nulls_first=_PLACEMENTS.get(placements.get(key.name, ""))),
                      descending) for key, descending in order)

    def order(self, asked: Sequence[tuple[str, bool]], parameter: str,
              errors: list[ParameterError], *, searched: bool = False) -> tuple[OrderItem, ...]:
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
            elif name == SEARCH_RANK and not searched:
                errors.append(ParameterError(
                    parameter, f"{SEARCH_RANK!r} is the relevance to 'search'; give search"))
                seen.add(name)
            else:
                seen.add(name)
                order.append((key, descending))
        return self.with_tiebreak(order)

    def with_tiebreak(self, order: list[OrderItem] | tuple[OrderItem, ...]) -> tuple[OrderItem, ...]:
        used = {key.name for key, _ in order}
        return (*order, *(item for item in self.tiebreak if item[0].name not in used))
