"""The ``json-server`` profile's steps: the query parameters ra-data-json-server sends.

Filters are plain query parameters in ``crud.http.profiles.records.Vocabulary``'s keys: ``status=a``
for equality, the key repeated (``id=1&id=2``) for any of the values, ``<field>_gte``,
``_lte``, ``_gt``, ``_lt``, ``_ne``, ``_like``; ``q`` searches. ``_sort``/``_order`` sort,
``_start``/``_end`` (end exclusive), ``_start``/``_limit`` or ``_page``/``_limit`` place the
page; without them the list is its first ``max_page_size`` rows. The total is in
``X-Total-Count``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crud.config.registry import ApiSpec
from crud.http.errors import BadRequest, ParameterError
from crud.http.filtering import param_value_type
from crud.http.listquery import Given, ListQuery, Parameter, Step
from crud.http.profiles.base import Profile, max_offset
from crud.http.profiles.records import (
    ID,
    MAX_ROW,
    Rows,
    Target,
    Vocabulary,
    check_offset,
    dialect_profile,
    pk_order,
)
from crud.http.schema import json_schema
from crud.http.steps.paging import PagingStep, Window
from crud.http.steps.search import SearchStep
from crud.http.steps.sort import SortStep
from crud.model.resource import Resource
from crud.model.values import MAX_SEARCH_LENGTH, NO_NUL_SCHEMA
from crud.sql.counting import Total
from crud.sql.pages import Page
from crud.sql.requests import Filter, OrderItem, Selection

__all__ = ["TOTAL_COUNT", "JsFilterStep", "JsPageStep", "JsSearchStep", "JsSortStep", "json_server_profile"]

TOTAL_COUNT = "X-Total-Count"


class JsFilterStep(Step[tuple[Filter, ...]]):
    """Each filter key as a query parameter; a repeated key means any of its values."""

    def __init__(self, vocabulary: Vocabulary, *, max_list_values: int) -> None:
        self.vocabulary = vocabulary
        self.parameters = tuple(_parameter(target, max_list_values)
                                for target in vocabulary.targets.values())

    def __repr__(self) -> str:
        return f"JsFilterStep({self.vocabulary!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[Filter, ...]:
        # The pairs themselves, not the comma-joined values: `chroot=a,b` is one value.
        asked: dict[str, list[str]] = {}
        for key, value in given.items:
            if key in self.vocabulary:
                asked.setdefault(key, []).append(value)
        filters = []
        for key in self.vocabulary.targets:
            values = asked.get(key)
            if values is None:
                continue
            found = self.vocabulary.filter(key, values, as_list=False, parameter=key,
                                           errors=errors)
            if found is not None:
                filters.append(found)
        return tuple(filters)


def _parameter(target: Target, max_list_values: int) -> Parameter:
    param = target.one or target.many
    assert param is not None
    leaf = param.leaf
    about = f"{leaf.description}. " if leaf.description else ""
    if target.split:
        text = f"{about}Filter: {leaf.name} {param.operator.description}."
        schema = json_schema(param_value_type(param, max_list_values))
        return Parameter(target.key, schema, text, repeatable=True, explode=False)
    if target.many is None:
        text = f"{about}Filter: {leaf.name} {param.operator.description}."
        if param.operator.shape in {"pattern", "text"}:
            return Parameter(target.key, NO_NUL_SCHEMA, text)
        return Parameter(target.key, json_schema(param_value_type(param, max_list_values)), text)
    key = "the primary key" if target.key == ID else leaf.name
    text = (f"{about}Filter: {key} equal to the value; repeated (`{target.key}=a&"
            f"{target.key}=b`): one of the values.")
    item = json_schema(param_value_type(target.many, max_list_values))["items"]
    schema = {"type": "array", "items": item, "minItems": 1, "maxItems": max_list_values}
    return Parameter(target.key, schema, text, repeatable=True, explode=True)


class JsSearchStep(Step[str | None]):
    """``q``: the search of the registry's ``search:`` fields."""

    def __init__(self, resource: Resource) -> None:
        fields = ", ".join(leaf.name for leaf in resource.search)
        self.parameters = (Parameter(
            "q", {**NO_NUL_SCHEMA, "maxLength": MAX_SEARCH_LENGTH},
            f"Case-insensitive text match in any of: {fields}. % and _ match literally."),
        ) if resource.search else ()

    def __repr__(self) -> str:
        return f"JsSearchStep(enabled={bool(self.parameters)})"

    def parse(self, given: Given, errors: list[ParameterError]) -> str | None:
        return SearchStep.text(given.get("q"), "q", errors)


class JsSortStep(Step[tuple[OrderItem, ...]]):
    """``_sort=a,b`` (``-a`` descending) and ``_order=asc,desc``; ``id`` sorts by the key."""

    def __init__(self, resource: Resource, sort: SortStep) -> None:
        self.sort = sort
        self.by_id = pk_order(resource)
        choices = [*sort.keys, *([ID] if ID not in sort.keys else [])]
        self.parameters = (
            Parameter("_sort", {"type": "string"},
                      f"Comma-separated fields: {', '.join(f'`{name}`' for name in choices)} "
                      "(`id`: the primary key, alone); `-field` sorts descending. The primary "
                      "key breaks ties."),
            Parameter("_order", {"type": "string"},
                      "`asc` or `desc` (any case), one for all of `_sort` or one per field."),
        )

    def __repr__(self) -> str:
        return f"JsSortStep({self.sort!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        raw, orders = given.get("_sort"), given.get("_order")
        if raw is None:
            if orders is not None:
                errors.append(ParameterError("_order", "given without _sort"))
            return self.sort.default
        names = raw.split(",")
        directions = [item.lower() for item in orders.split(",")] if orders else []
        if len(directions) not in {0, 1, len(names)} or \
                any(item not in {"asc", "desc"} for item in directions):
            errors.append(ParameterError("_order", "expected asc or desc, once or once per "
                                                   "_sort field"))
            return self.sort.default
        asked = []
        for index, name in enumerate(names):
            direction = directions[index if len(directions) > 1 else 0] if directions else "asc"
            asked.append((name.removeprefix("-"), name.startswith("-") or direction == "desc"))
        if any(name == ID for name, _ in asked) and ID not in self.sort.keys:
            if len(asked) > 1:
                errors.append(ParameterError("_sort", "id (the primary key) sorts alone"))
                return self.sort.default
            return self.by_id[asked[0][1]]
        return self.sort.order(asked, "_sort", errors)


class JsPageStep(PagingStep[Rows]):
    """``_start``/``_end``/``_limit``/``_page``; ``X-Total-Count`` back."""

    def __init__(self, resource: Resource, *, max_offset: int | None) -> None:
        self.page_size = resource.page_size
        self.max_rows = resource.max_page_size
        self.max_offset = max_offset
        row = {"type": "integer", "minimum": 0, "maximum": MAX_ROW}
        self.parameters = (
            Parameter("_start", row, "First row, from 0 (with `_end` or `_limit`)"),
            Parameter("_end", {**row, "minimum": 1}, "Row after the last one (exclusive)"),
            Parameter("_page", {"type": "integer", "minimum": 1, "maximum": MAX_ROW},
                      "Page number, from 1, of `_limit` rows (not with `_start`/`_end`)"),
            Parameter("_limit", {"type": "integer", "minimum": 1, "maximum": MAX_ROW},
                      f"Rows per page (default {self.page_size} with `_page`); at most "
                      f"{self.max_rows} are sent. Without any of these: the first "
                      f"{self.max_rows} rows."),
        )

    def __repr__(self) -> str:
        return f"JsPageStep(max_offset={self.max_offset})"

    def parse(self, given: Given, errors: list[ParameterError]) -> Rows:
        numbers = {name: _number(given, name, 0 if name == "_start" else 1, errors)
                   for name in ("_start", "_end", "_page", "_limit")}
        start, end, page, limit = (numbers[name] for name in ("_start", "_end", "_page",
                                                                "_limit"))
        if page is not None and (start is not None or end is not None):
            raise BadRequest("_page: not with _start or _end; send one or the other.",
                             errors=[ParameterError("_page", "not with _start or _end")])
        if page is not None:
            size = limit or self.page_size
            if (page - 1) * size > MAX_ROW:
                errors.append(ParameterError("_page", f"starts after row {MAX_ROW}"))
                return Rows(0, 1)
            return Rows((page - 1) * size, min(size, self.max_rows))
        first = start or 0
        if end is not None:
            if end <= first:
                errors.append(ParameterError("_end", f"must be after _start ({first})"))
                return Rows(first, 1)
            return Rows(first, min(end - first, limit or self.max_rows, self.max_rows))
        return Rows(first, min(limit or self.max_rows, self.max_rows))

    def window(self, ask: Rows, query: ListQuery, selection: Selection,
               order: Sequence[OrderItem]) -> Window:
        check_offset(ask.start, self.max_offset, "_page" if "_page" in query.given else "_start")
        return Window(ask.start, ask.limit, ask.limit, offset=ask.start)

    def next_cursor(self, window: Window, order: Sequence[OrderItem], page: Page) -> str | None:
        return None

    def headers(self, window: Window, query: ListQuery, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        # The registry refuses `count: none` for this profile: the total is a number.
        return 200, {TOTAL_COUNT: "*" if total.value is None else str(total.value)}


def _number(given: Given, name: str, minimum: int,
            errors: list[ParameterError]) -> int | None:
    raw = given.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) >= minimum):
        errors.append(ParameterError(name, f"expected a whole number from {minimum} to "
                                           f"{MAX_ROW}, got {raw!r}"))
        return None
    return int(raw)


def json_server_profile(resource: Resource, api: ApiSpec) -> Profile:
    """ra-data-json-server's contract: plain filters, ``_sort``/``_start``..., X-Total-Count."""
    vocabulary = Vocabulary(resource, "json-server", max_list_values=api.max_list_values)
    headers = {TOTAL_COUNT: {"description": "Rows matching the query (whatever the page)",
                             "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    return dialect_profile("json-server", resource, api, headers,
                    filters=JsFilterStep(vocabulary, max_list_values=api.max_list_values),
                    search=JsSearchStep(resource), sort=JsSortStep(resource, SortStep(resource)),
                    paging=JsPageStep(resource, max_offset=max_offset(resource, api)))
