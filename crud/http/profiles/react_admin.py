"""The ``react-admin`` profile's steps: ra-data-simple-rest's query parameters.

``filter`` is a JSON object of client keys (``crud.http.profiles.records.Vocabulary``; ``q`` is
the search), ``sort`` a JSON pair ``["field", "ASC"|"DESC"]``, ``range`` a JSON pair of
0-based inclusive row numbers, also sent as ``Range: <resource>=<first>-<last>``. The
response is ``Content-Range: <resource> <first>-<last>/<total>`` on a 200 (react-admin
reads the total after the slash). Without a range (react-admin's getMany) the list is
its first ``max_page_size`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from crud.config.registry import ApiSpec
from crud.http.errors import BadRequest, ParameterError
from crud.http.listquery import Given, ListQuery, Parameter, Step
from crud.http.pagination import content_range
from crud.http.profiles.base import Profile, max_offset
from crud.http.profiles.records import ID, MAX_ROW, Rows, Vocabulary, check_offset, dialect_profile, pk_order
from crud.http.ranges import parse_range
from crud.http.steps.paging import PagingStep, Window
from crud.http.steps.search import SearchStep
from crud.http.steps.sort import SortStep
from crud.model.resource import Resource
from crud.sql.counting import Total
from crud.sql.pages import Page
from crud.sql.requests import Filter, OrderItem, Selection

__all__ = ["RaFilterStep", "RaPageStep", "RaSearchStep", "RaSortStep", "filter_object", "react_admin_profile"]

_JSON = {"type": "string", "contentMediaType": "application/json"}


def _json(given: Given, name: str, what: str) -> Any:
    raw = given.get(name)
    if raw is None or raw == "":
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(f"{name}: not JSON; expected {what}.",
                         errors=[ParameterError(name, f"not JSON; expected {what}")]) from None


def filter_object(given: Given) -> dict[str, Any]:
    """The ``filter`` parameter's object (empty when not given); 400 when it is not one."""
    value = _json(given, "filter", 'an object such as {"status": "success"}')
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("filter: expected a JSON object of filters.",
                         errors=[ParameterError("filter", "expected a JSON object")])
    return value


def _texts(value: Any) -> list[str] | None:
    """A JSON filter value as query-string texts, so it is read as a query string is."""
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if isinstance(item, bool):
            texts.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            texts.append(str(item))
        else:
            return None
    return texts


class RaFilterStep(Step[tuple[Filter, ...]]):
    """``filter={...}``: each key onto a declared filter, ANDed; unknown keys are a 400."""

    def __init__(self, vocabulary: Vocabulary, *, search: bool) -> None:
        self.vocabulary = vocabulary
        self.extra = ("q",) if search else ()
        keys = ", ".join(f"`{key}`" for key in [*vocabulary.targets, *self.extra])
        self.parameters = (Parameter(
            "filter", _JSON,
            "A JSON object of filters, ANDed: a field's name for equality (an array: any of "
            "the values), `<field>_gte`/`_lte`/`_gt`/`_lt`/`_neq`/`_like` for the other "
            "declared operators (`<field>__<operator>` for the rest), `id` for the primary key"
            f"{', `q` for the search' if search else ''}. Keys: {keys or 'none'}."),)

    def __repr__(self) -> str:
        return f"RaFilterStep({self.vocabulary!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[Filter, ...]:
        asked = filter_object(given)
        self.vocabulary.unknown(asked, "filter", self.extra)
        filters = []
        for key, value in asked.items():
            if key in self.extra:
                continue
            texts = _texts(value)
            if texts is None:
                errors.append(ParameterError("filter", f"{key}: expected a value or an array "
                                                       f"of values, got {orjson.dumps(value).decode()}"))
                continue
            found = self.vocabulary.filter(key, texts, as_list=isinstance(value, list),
                                           parameter="filter", errors=errors)
            if found is not None:
                filters.append(found)
        return tuple(filters)


class RaSearchStep(Step[str | None]):
    """``q`` in the ``filter`` object: the search (the filter step declares the parameter)."""

    def __repr__(self) -> str:
        return "RaSearchStep()"

    def parse(self, given: Given, errors: list[ParameterError]) -> str | None:
        text = filter_object(given).get("q")
        if text is not None and not isinstance(text, str):
            errors.append(ParameterError("filter", "q: expected a text"))
            return None
        return SearchStep.text(text, "filter", errors)


class RaSortStep(Step[tuple[OrderItem, ...]]):
    """``sort=["field","ASC"]`` over the declared sort keys; ``id`` sorts by the key."""

    def __init__(self, resource: Resource, sort: SortStep) -> None:
        self.sort = sort
        self.by_id = pk_order(resource)
        choices = [*sort.keys, *([ID] if ID not in sort.keys else [])]
        self.parameters = (Parameter(
            "sort", _JSON, "A JSON pair `[field, order]`, order `ASC` or `DESC`; fields: "
                           f"{', '.join(f'`{name}`' for name in choices)} (`id`: the primary "
                           "key). The primary key breaks ties."),)

    def __repr__(self) -> str:
        return f"RaSortStep({self.sort!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[OrderItem, ...]:
        value = _json(given, "sort", 'a pair such as ["id", "ASC"]')
        if value is None:
            return self.sort.default
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(item, str) for item in value)):
            errors.append(ParameterError("sort", 'expected a pair such as ["id", "ASC"]'))
            return self.sort.default
        name, order = value
        if order.upper() not in {"ASC", "DESC"}:
            errors.append(ParameterError("sort", f"order {order!r}: expected ASC or DESC"))
            return self.sort.default
        descending = order.upper() == "DESC"
        if name == ID and ID not in self.sort.keys:
            return self.by_id[descending]
        return self.sort.order([(name, descending)], "sort", errors)


class RaPageStep(PagingStep[Rows]):
    """``range=[first,last]`` and/or ``Range: <resource>=first-last``; Content-Range back."""

    def __init__(self, resource: Resource, *, max_offset: int | None) -> None:
        self.unit = resource.name
        self.max_rows = resource.max_page_size
        self.max_offset = max_offset
        self.parameters = (
            Parameter("range", _JSON,
                      "A JSON pair `[first, last]` of 0-based inclusive row numbers, at most "
                      f"{self.max_rows} rows (more are cut to that). Without it: the first "
                      f"{self.max_rows} rows."),
            Parameter("Range", {"type": "string"},
                      f"`{self.unit}=<first>-<last>`, as react-admin sends beside `range`; "
                      "the two must agree. Malformed ranges are ignored.", location="header"),
        )

    def __repr__(self) -> str:
        return f"RaPageStep({self.unit!r}, max_offset={self.max_offset})"

    def parse(self, given: Given, errors: list[ParameterError]) -> Rows:
        asked = self._range(given, errors)
        header = parse_range(given.headers.get("Range"), (self.unit, "items"), self.max_rows)
        if header is None:
            return asked or Rows(0, self.max_rows)
        rows = Rows(header.start, header.limit)
        if asked is not None and asked != rows:
            raise BadRequest("Range: says other rows than range; send the same rows or one "
                             "of them.", errors=[ParameterError("Range", "disagrees with range")])
        return rows

    def _range(self, given: Given, errors: list[ParameterError]) -> Rows | None:
        value = _json(given, "range", "a pair such as [0, 9]")
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == 2
                and all(isinstance(item, int) and not isinstance(item, bool) for item in value)
                and 0 <= value[0] <= value[1] <= MAX_ROW):
            errors.append(ParameterError("range", "expected [first, last]: row numbers from 0, "
                                                  f"first <= last <= {MAX_ROW}"))
            return None
        return Rows(value[0], min(value[1] - value[0] + 1, self.max_rows))

    def window(self, ask: Rows, query: ListQuery, selection: Selection,
               order: Sequence[OrderItem]) -> Window:
        check_offset(ask.start, self.max_offset, "range")
        return Window(ask.start, ask.limit, ask.limit, offset=ask.start)

    def next_cursor(self, window: Window, order: Sequence[OrderItem], page: Page) -> str | None:
        return None

    def headers(self, window: Window, query: ListQuery, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        return 200, {"Content-Range": content_range(self.unit, window.position, returned,
                                                     total.value)}


def react_admin_profile(resource: Resource, api: ApiSpec) -> Profile:
    """ra-data-simple-rest's contract: ``filter``/``sort``/``range`` as JSON, Content-Range."""
    vocabulary = Vocabulary(resource, "react-admin", max_list_values=api.max_list_values)
    headers = {"Content-Range": {
        "description": f"`{resource.name} <first>-<last>/<total>` (0-based, inclusive); "
                       f"`{resource.name} */<total>` for an empty page",
        "schema": {"type": "string"}}}
    return dialect_profile("react-admin", resource, api, headers,
                    filters=RaFilterStep(vocabulary, search=bool(resource.search)),
                    search=RaSearchStep(), sort=RaSortStep(resource, SortStep(resource)),
                    paging=RaPageStep(resource, max_offset=max_offset(resource, api)))
