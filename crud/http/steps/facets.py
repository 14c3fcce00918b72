"""Facets: ``facet=chroot&facet=status`` counts the selected rows per value, beside the page.

Only the registry's ``facets:`` fields are offered (the step has no parameters without
them). ``facet_size`` caps the values listed per facet (default 10, at most 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, Field, create_model

from crud.http.errors import ParameterError
from crud.http.listquery import Given, Parameter, Step
from crud.http.pagination import ListPage
from crud.model.binding import hint
from crud.model.fields import Leaf
from crud.model.resource import Resource
from crud.model.values import ascii_whole
from crud.sql.facets import FacetCounts

__all__ = ["FACET_SIZE", "MAX_FACET_SIZE", "FacetAsk", "FacetStep", "faceted_page_model",
           "facets_body"]

FACET_SIZE = 10
MAX_FACET_SIZE = 100


@dataclass(frozen=True)
class FacetAsk:
    """The facets a request asked for (in its order) and how many values each may list."""

    leaves: tuple[Leaf, ...] = ()
    size: int = FACET_SIZE


class FacetStep(Step[FacetAsk]):

    names: ClassVar[tuple[str, ...]] = ("facet", "facet_size")  # the query parameters it may read

    def __init__(self, resource: Resource) -> None:
        self.facets = {leaf.name: leaf for leaf in resource.facets}
        self.parameters = (
            Parameter("facet", {"type": "array", "items": {"type": "string",
                                                            "enum": list(self.facets)},
                                "minItems": 1, "uniqueItems": True},
                      "Count the selected rows (all of them, not just the page's) per value of "
                      "these fields, under `facets` in the body; repeat it or comma-separate.",
                      repeatable=True, explode=True),
            Parameter("facet_size", {"type": "integer", "minimum": 1,
                                     "maximum": MAX_FACET_SIZE, "default": FACET_SIZE},
                      f"Most values listed per facet, 1 to {MAX_FACET_SIZE}; a facet with more "
                      "is named in `facets_truncated`."),
        ) if self.facets else ()

    def __repr__(self) -> str:
        return f"FacetStep({list(self.facets)})"

    def parse(self, given: Given, errors: list[ParameterError]) -> FacetAsk:
        size = self._size(given.get("facet_size"), errors)
        raw = given.get("facet")
        if raw is None:
            return FacetAsk(size=size)
        leaves: dict[str, Leaf] = {}
        for name in raw.split(","):
            leaf = self.facets.get(name)
            if leaf is None:
                errors.append(ParameterError(
                    "facet", f"no facet {name!r}{hint(name, list(self.facets))}"))
            elif name in leaves:
                errors.append(ParameterError("facet", f"{name!r} given more than once"))
            else:
                leaves[name] = leaf
        return FacetAsk(tuple(leaves.values()), size)

    @staticmethod
    def _size(raw: str | None, errors: list[ParameterError]) -> int:
        if raw is None:
            return FACET_SIZE
        size = ascii_whole(raw)
        if size is None or not 1 <= size <= MAX_FACET_SIZE:
            errors.append(ParameterError(
                "facet_size", f"expected a whole number from 1 to {MAX_FACET_SIZE}, got {raw!r}"))
            return FACET_SIZE
        return size


def facets_body(counts: FacetCounts) -> dict[str, Any]:
    """The body's ``facets``, ``facets_truncated`` and ``facets_timed_out``."""
    return {"facets": {name: [{"value": value, "count": count} for value, count in pairs]
                       for name, pairs in counts.values.items()},
            "facets_truncated": counts.truncated, "facets_timed_out": counts.timed_out}


def faceted_page_model(name: str, item: type[BaseModel], facets: Sequence[Leaf]
                       ) -> type[BaseModel]:
    """The list page (``<Name>Page``) plus the keys a request with ``facet=`` gets, typed
    per facet field."""
    lists: dict[str, Any] = {}
    for index, leaf in enumerate(facets):
        value = create_model(f"{name}{_camel(leaf.name)}FacetValue",
                             value=(leaf.info.python_type | None, Field(
                                 description=f"A value of {leaf.name}; null is a value too")),
                             count=(int, Field(description="Selected rows with this value")))
        lists[f"f{index}"] = (list[value] | None, Field(
            None, alias=leaf.name, description=f"Values of {leaf.name}, most frequent first"))
    facet_model = create_model(f"{name}Facets", **lists)
    model: type[BaseModel] = create_model(
        f"{name}Page", __base__=ListPage[item],  # type: ignore[valid-type]
        facets=(facet_model | None, Field(
            None, description="With ?facet=: value counts over every selected row; a facet "
                              "that ran out of time is left out (see facets_timed_out)")),
        facets_truncated=(list[str] | None, Field(
            None, description="Facets with more values than facet_size (the rest cut off)")),
        facets_timed_out=(list[str] | None, Field(
            None, description="Facets left out: their count ran past the facet time budget")))
    return model


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(".", "_").split("_"))
