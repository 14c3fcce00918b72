"""Parse a list request's query string strictly, in the client's own vocabulary.

Unknown parameters are a 400 that names them (a typo must never return unfiltered data);
values that do not fit are a 422 listing every bad parameter at once. Everything here is
prepared per resource at startup; a request only looks things up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi_filter.contrib.sqlalchemy import Filter
from fastapi_pagination import Params
from pydantic import ValidationError
from starlette.datastructures import QueryParams

from crud.http.errors import BadRequest, InvalidParameter, ParameterError
from crud.model.binding import hint
from crud.model.fields import Leaf
from crud.model.resource import Resource
from crud.model.values import MAX_SEARCH_LENGTH
from crud.sql.query import OrderItem

__all__ = ["PAGING_PARAMETERS", "ListRequest", "ListRequestParser"]

PAGING_PARAMETERS = ("page", "size")


@dataclass(frozen=True)
class ListRequest:
    params: Params
    filters: Filter | None
    filter_leaves: tuple[Leaf, ...]
    search: str | None
    order: tuple[OrderItem, ...]


class ListRequestParser:
    def __init__(self, resource: Resource, *, params_model: type[Params],
                 filter_model: type[Filter], max_list_values: int,
                 max_query_length: int, extra_parameters: Sequence[str] = (),
                 paging: Sequence[str] = PAGING_PARAMETERS) -> None:
        self.resource = resource
        self.paging = tuple(paging)  # the legacy profile reads page and per_page
        self.params_model = params_model
        self.filter_model = filter_model
        self.max_list_values = max_list_values
        self.max_query_length = max_query_length
        self.list_parameters = {name for name, param in resource.filters.items()
                                if param.operator.shape == "list"} | {"order_by"}
        names = [*self.paging, *resource.filters]
        if resource.sort:
            names.append("order_by")
        if resource.search:
            names.append("search")
        names.extend(extra_parameters)
        self.known = frozenset(names)
        self.sort_choices = [f"{prefix}{name}" for name in resource.sort for prefix in ("", "-")]

    def parse(self, query: QueryParams, raw_query: str) -> ListRequest:
        self._check_shape(query, raw_query)
        values = self._collapse(query)
        errors: list[ParameterError] = []
        params = self._paging(values, errors)
        filters, leaves = self._filters(values, errors)
        order = self._order(values.get("order_by"), errors)
        search = values.get("search")
        if search is not None and len(search) > MAX_SEARCH_LENGTH:
            errors.append(ParameterError("search", f"at most {MAX_SEARCH_LENGTH} characters"))
        if search is not None and "\x00" in search:
            errors.append(ParameterError("search", "NUL characters (\\x00) are not allowed"))
        if errors or params is None:
            raise InvalidParameter(_summary(errors), errors=errors)
        return ListRequest(params=params, filters=filters, filter_leaves=leaves,
                           search=search or None, order=order)

    def _check_shape(self, query: QueryParams, raw_query: str) -> None:
        if len(raw_query) > self.max_query_length:
            raise BadRequest(f"The query string has {len(raw_query)} characters; "
                             f"the limit is {self.max_query_length}.")
        unknown = [key for key in dict.fromkeys(query.keys()) if key not in self.known]
        if unknown:
            errors = [ParameterError(key, f"unknown parameter{hint(key, sorted(self.known))}")
                      for key in unknown]
            raise BadRequest(
                f"Unknown query parameter {', '.join(repr(key) for key in unknown)}. "
                f"Valid parameters: {', '.join(sorted(self.known))}.",
                errors=errors,
            )

    def _collapse(self, query: QueryParams) -> dict[str, str]:
        values: dict[str, str] = {}
        repeated = []
        for key in dict.fromkeys(query.keys()):
            given = query.getlist(key)
            if len(given) > 1 and key not in self.list_parameters:
                repeated.append(key)
            values[key] = ",".join(given)
        if repeated:
            raise BadRequest(
                f"Parameter {', '.join(repr(key) for key in repeated)} given more than once.",
                errors=[ParameterError(key, "given more than once") for key in repeated],
            )
        return values

    def _paging(self, values: dict[str, str], errors: list[ParameterError]) -> Params | None:
        given = {key: values[key] for key in self.paging if key in values}
        try:
            return self.params_model.model_validate(given)
        except ValidationError as error:
            errors.extend(_entries(error))
            return None

    def _filters(self, values: dict[str, str],
                 errors: list[ParameterError]) -> tuple[Filter | None, tuple[Leaf, ...]]:
        given: dict[str, Any] = {}
        for name, param in self.resource.filters.items():
            if name not in values:
                continue
            raw = values[name]
            given[name] = raw.split(",") if param.operator.shape == "list" else raw
        if not given:
            return None, ()
        try:
            instance = self.filter_model.model_validate(given)
        except ValidationError as error:
            errors.extend(_entries(error))
            return None, ()
        leaves = tuple(self.resource.filters[name].leaf for name in given)
        return instance, leaves

    def _order(self, raw: str | None, errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        if raw is None:
            return self.resource.default_sort
        order: list[OrderItem] = []
        seen: set[str] = set()
        for item in raw.split(","):
            # Exactly the documented enum: "key" or "-key" (no "+", no spaces, no "--").
            name = item.removeprefix("-")
            key = self.resource.sort.get(name)
            if key is None:
                choices = ", ".join(self.sort_choices) or "none"
                errors.append(ParameterError(
                    "order_by", f"cannot sort by {item!r}{hint(name, list(self.resource.sort))}; "
                                f"allowed: {choices}"))
            elif name in seen:
                errors.append(ParameterError("order_by", f"{name!r} given more than once"))
            else:
                seen.add(name)
                order.append((key, item.startswith("-")))
        return tuple(order)


def _entries(error: ValidationError) -> list[ParameterError]:
    entries = []
    for item in error.errors(include_url=False):
        location = item["loc"]
        parameter = str(location[0]) if location else "query"
        message = item["msg"]
        if len(location) > 1 and isinstance(location[1], int):
            message = f"item {location[1] + 1}: {message}"
        if item["type"] in {"too_long", "too_short"} and parameter.endswith("in"):
            message = item["msg"].replace("List", "The list")
        entries.append(ParameterError(parameter, message))
    return entries


def _summary(errors: list[ParameterError]) -> str:
    return "; ".join(f"{entry['parameter']}: {entry['message']}" for entry in errors)
