"""The ``legacy`` profile: the old Flask API's wire contract, so a dashboard switches URLs first.

Request: ``page`` (from 1) and ``per_page`` (default 10, at most ``max_page_size``, optionally
one of ``per_page_values``); filters, ``order_by`` and ``search`` as in the standard
profile; ``size`` is an unknown parameter. Response: status 206 and a bare JSON array;
``Content-Range: <unit> <first+1>-<page*per_page>/*`` computed from the request alone (the
old API never counted, so no COUNT statement runs); date-times as integer epoch seconds
(naive ones are UTC, or under ``naive_datetimes: as_stored`` local times of the server's
zone, as Python's ``datetime.timestamp()`` in the old API read them); and the old
encoder's bytes: Flask's ``jsonify`` sorts keys, writes no spaces, escapes non-ASCII and
ends with a newline.

The profile composes the standard steps (filters, search, sort) with this module's paging
step (``LegacyPageStep``) and renderer (``ArrayRenderer``).
"""

from __future__ import annotations

import datetime as dt
import json
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import orjson
from fastapi_pagination import Params
from pydantic import AfterValidator, BaseModel, Field, ValidationError, create_model

from crud.config.registry import ApiSpec, LegacySpec, Registry, RegistryError, ResourceSpec
from crud.config.yamlfile import LocatedData
from crud.http.errorbodies import ErrorBody
from crud.http.errors import BadRequest, ParameterError
from crud.http.listquery import Given, ListQuery, Parameter
from crud.http.profiles.base import Profile, max_offset, responses
from crud.http.rows import json_default
from crud.http.schema import item_model, model_name
from crud.http.steps.filters import FilterStep, validation_entries
from crud.http.steps.paging import PageAsk, PagingStep, Window
from crud.http.steps.search import SearchStep
from crud.http.steps.sort import SortStep
from crud.model.binding import IssueCollector
from crud.model.fields import Leaf
from crud.model.resource import Resource
from crud.model.values import MAX_PAGE, LocalDatetime
from crud.sql.counting import Total
from crud.sql.pages import Page
from crud.sql.requests import OrderItem, Selection

__all__ = [
    "ArrayRenderer",
    "LegacyEncoder",
    "LegacyPageStep",
    "check_legacy_options",
    "epoch_seconds",
    "legacy_dumps",
    "legacy_model",
    "legacy_options",
    "legacy_params_model",
    "legacy_profile",
    "legacy_range",
]


_ABSENT: Any = object()


def epoch_seconds(value: dt.datetime, *, naive_utc: bool = True) -> int:
    """Whole seconds since 1970-01-01 UTC. A naive date-time is UTC, or (``naive_utc``
    False) a local time of this server's zone (``TZ``), as ``datetime.timestamp()`` reads it."""
    if value.tzinfo is None and naive_utc:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def _default(value: Any, *, naive_utc: bool = True) -> Any:
    if isinstance(value, dt.datetime):
        return epoch_seconds(value, naive_utc=naive_utc)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return json_default(value)


def _local_default(value: Any) -> Any:
    return _default(value, naive_utc=False)


def legacy_dumps(content: Any, *, naive_utc: bool = True) -> bytes:
    """The bytes Flask's ``jsonify`` sends (outside debug mode), date-times as epoch seconds."""
    text = json.dumps(content, default=_default if naive_utc else _local_default,
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"{text}\n".encode("ascii")


class LegacyEncoder:
    """``legacy_dumps``, through orjson when that gives the same bytes (about 3x faster).

    orjson with sorted keys writes what ``json.dumps`` does except for floats (exponent
    spelling, NaN), non-ASCII text and DEL (which ``ensure_ascii`` escapes). Resources
    without number or JSON fields cannot produce floats; the bytes are checked for the rest.
    """

    _OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE

    def __init__(self, leaves: Iterable[Leaf], *, naive_utc: bool = True) -> None:
        self.fast = all(leaf.info.kind not in {"number", "json"} for leaf in leaves)
        self.naive_utc = naive_utc
        self.default = _default if naive_utc else _local_default

    def __call__(self, content: Any) -> bytes:
        if self.fast:
            body = orjson.dumps(content, default=self.default, option=self._OPTIONS)
            if body.isascii() and b"\x7f" not in body:
                return body
        return legacy_dumps(content, naive_utc=self.naive_utc)

    def __repr__(self) -> str:
        return f"LegacyEncoder(fast={self.fast}, naive_utc={self.naive_utc})"


def legacy_range(unit: str, page: int, per_page: int) -> str:
    """``<unit> <first+1>-<page*per_page>/*``: the range asked for, never the rows returned."""
    return f"{unit} {(page - 1) * per_page + 1}-{page * per_page}/*"


def legacy_params_model(name: str, options: LegacySpec, max_page_size: int) -> type[Params]:
    """``Params`` reading ``per_page`` into ``size``, so the standard plan step applies."""
    allowed = options.per_page_values

    def one_of_allowed(value: int) -> int:
        if allowed is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(str(item) for item in allowed)}")
        return value

    model: type[Params] = create_model(
        f"{name}LegacyParams",
        __base__=Params,
        page=(int, Field(1, ge=1)),
        size=(Annotated[int, AfterValidator(one_of_allowed)],
              Field(options.per_page, ge=1, le=max_page_size, alias="per_page")),
    )
    return model


def legacy_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with every date-time typed as the integer the legacy profile sends."""
    fields: dict[str, Any] = {
        name: (_legacy_type(info.annotation), Field(description=info.description))
        for name, info in model.model_fields.items()
    }
    legacy: type[BaseModel] = create_model(f"{model.__name__}Legacy", **fields)
    return legacy


def _legacy_type(annotation: Any) -> Any:
    if annotation is dt.datetime or annotation is LocalDatetime:
        return int
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return legacy_model(annotation)
    origin = get_origin(annotation)
    if origin is None or origin is Literal:
        return annotation
    args = tuple(_legacy_type(arg) for arg in get_args(annotation))
    if origin is list:
        return list[args[0]]  # type: ignore[valid-type]
    if origin is Union or origin is types.UnionType:
        return Union[args]  # noqa: UP007 - built from a tuple at runtime
    return annotation


# -- requests and bodies -------------------------------------------------------------------


class LegacyPageStep(PagingStep[PageAsk]):
    """``page`` and ``per_page``, answered 206 (``empty_status`` when no item) with the old
    range; no count runs."""

    names: ClassVar[tuple[str, ...]] = ("page", "per_page")  # the query parameters it may read
    def __init__(self, resource: Resource, options: LegacySpec, *,
                 max_offset: int | None) -> None:
        self.unit = options.unit or resource.name
        self.empty_status = options.empty_status
        self.max_offset = max_offset
        self.params_model: type[Params] = legacy_params_model(
            model_name(resource), options, resource.max_page_size)
        per_page: dict[str, Any] = {"type": "integer", "minimum": 1,
                                    "maximum": resource.max_page_size, "default": options.per_page}
        if options.per_page_values is not None:
            per_page["enum"] = list(options.per_page_values)
        self.parameters = (
            Parameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                               "default": 1}, "Page number, from 1"),
            Parameter("per_page", per_page, f"Rows per page, at most {resource.max_page_size}"),
        )

    def __repr__(self) -> str:
        return f"LegacyPageStep(unit={self.unit!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> PageAsk:
        sizes = {name: given.values[name] for name in ("page", "per_page") if name in given}
        try:
            params = self.params_model.model_validate(sizes)
        except ValidationError as error:
            errors.extend(validation_entries(error))
            params = self.params_model()
        return PageAsk(params.page, params.size)

    def window(self, ask: PageAsk, query: ListQuery, selection: Selection,
               order: Sequence[OrderItem]) -> Window:
        offset = (ask.page - 1) * ask.size
        if self.max_offset is not None and offset > self.max_offset:
            # The standard profile's max_offset; legacy clients have no cursor to go deeper.
            reason = (f"offset {offset} is beyond this list's max_offset {self.max_offset}; "
                      "narrow the list with filters")
            raise BadRequest(f"page: {reason}.", errors=[ParameterError("page", reason)])
        return Window(offset, ask.size, ask.size, offset=offset)

    def next_cursor(self, window: Window, order: Sequence[OrderItem], page: Page) -> str | None:
        return None

    def headers(self, window: Window, query: ListQuery, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        page = window.position // window.size + 1  # a legacy window starts on its page
        status = 206 if returned else self.empty_status
        return status, {"Content-Range": legacy_range(self.unit, page, window.size)}


class ArrayRenderer:
    """The old API's body: the items as a bare array, encoded as its encoder did."""

    media_type = "application/json"
    json_rows = False  # the old encoder's bytes: epoch seconds, sorted keys

    def __init__(self, encoder: LegacyEncoder, item: str | None = None) -> None:
        self.encoder = encoder
        self.item = item  # legacy.item: each list item is this field's bare value

    def __repr__(self) -> str:
        return f"ArrayRenderer({self.encoder!r}, item={self.item!r})"

    def list_body(self, items: list[dict[str, Any]], total: Total, window: Window,
                  next_cursor: str | None, extra: Mapping[str, Any] | None = None) -> bytes:
        if self.item is not None:
            return self.encoder([item[self.item] for item in items])
        return self.encoder(items)  # a bare array has nowhere to put more

    def item_body(self, item: dict[str, Any]) -> bytes:
        return self.encoder(item)


# -- the profile and its registry checks ----------------------------------------------------


def legacy_options(resource: Resource, api: ApiSpec) -> LegacySpec | None:
    """The resource's legacy options when it is served in the legacy profile, else None."""
    if (resource.spec.profile or api.profile) != "legacy":
        return None
    return resource.spec.legacy or api.legacy


def check_legacy_options(registry: Registry, located: LocatedData, path: str) -> None:
    """Legacy page sizes within ``max_page_size`` and no analytics (the old contract has none);
    ``RegistryError`` listing every problem."""
    collector = IssueCollector(path=path, located=located)
    api = registry.api
    if api.legacy.item is not None:
        collector.add(("api", "legacy", "item"), "an item field names one resource's field; "
                                                 "declare it in that resource's legacy:")
    for name, spec in registry.resources.items():
        _check_item(name, spec, collector)
        if (spec.profile or api.profile) != "legacy":
            continue
        for analytics, declared in (("facets", bool(spec.facets)),
                                    ("aggregate", bool(spec.aggregate))):
            if declared:  # the old contract has no place for them: say so, never ignore them
                collector.add(("resources", name, analytics),
                              f"the legacy profile serves the old API's bare arrays, without "
                              f"{analytics}; drop it or serve {name} in the standard profile")
        options = spec.legacy or api.legacy
        where: tuple[str | int, ...] = ("resources", name, "legacy") if spec.legacy else ("api", "legacy")
        limit = spec.max_page_size or api.max_page_size
        sizes: list[tuple[tuple[str | int, ...], int]] = [(("per_page",), options.per_page)]
        sizes += [(("per_page_values", index), size)
                  for index, size in enumerate(options.per_page_values or ())]
        for key, size in sizes:
            if size > limit:
                collector.add((*where, *key), f"{size} is over the max_page_size of {name} "
                                              f"({limit}): no request could use it")
    if collector.issues:
        raise RegistryError(collector.issues)


def _check_item(name: str, spec: ResourceSpec, collector: IssueCollector) -> None:
    """``legacy.item`` names a field of the resource's own, a value rather than an object."""
    item = spec.legacy.item if spec.legacy is not None else None
    if item is None:
        return
    where = ("resources", name, "legacy", "item")
    field = spec.fields.get(item, _ABSENT)
    if field is _ABSENT:
        collector.add(where, f"{item!r} is not a field of {name} (fields: "
                             f"{', '.join(spec.fields)})")
    elif field is not None and field.fields:
        collector.add(where, f"{item!r} is an object or a list of objects; name a field "
                             "whose value is sent as it is")


def legacy_profile(resource: Resource, api: ApiSpec, options: LegacySpec) -> Profile:
    paging = LegacyPageStep(resource, options, max_offset=max_offset(resource, api))
    item = legacy_model(item_model(resource))
    # legacy.item: the list is an array of that field's values (its type, in OpenAPI too).
    listed_item = item if options.item is None else item.model_fields[options.item].annotation
    range_header = {"Content-Range": {
        "description": f"`{paging.unit} <first>-<last>/*`: the rows asked for, 1-based "
                       "inclusive (page and per_page), whether or not they exist; never a total",
        "schema": {"type": "string"}}}
    listed = responses(None, range_header, ok=206, description="The old API's contract")
    listed[400]["description"] += ", or a page beyond max_offset"
    if options.empty_status == 200:
        listed[200] = {**listed[206], "description": "No item (legacy.empty_status)"}
    detailed = responses(None, {}, description="The old API's contract")
    error_body = None
    if options.error_body is not None:
        error_body = ErrorBody(options.error_body, options.error_status)
        _document_errors(error_body, listed, detailed)
    return Profile(
        name="legacy",
        filters=FilterStep(resource, max_list_values=api.max_list_values),
        search=SearchStep(resource), sort=SortStep(resource), paging=paging,
        renderer=ArrayRenderer(LegacyEncoder(resource.leaves.values(),
                                             naive_utc=resource.naive_utc), options.item),
        list_route={"status_code": 206,
                    "response_model": list[listed_item],  # type: ignore[valid-type]
                    "responses": listed},
        detail_route={"response_model": item, "responses": detailed},
        error_body=error_body,
    )


def _document_errors(error_body: ErrorBody, *answers: dict[int | str, Any]) -> None:
    """The declared error body in place of problem+json, under the statuses it is sent with."""
    content = {"content": {ErrorBody.media_type: {"schema": error_body.openapi_schema()}}}
    for documented in answers:
        for status in [key for key in documented if isinstance(key, int) and key >= 400]:
            answer = {**documented.pop(status), **content}
            sent = error_body.statuses.get(status, status)
            if sent in documented:  # two of ours are one of theirs (422 and 400 as 400)
                answer["description"] = f"{documented[sent]['description']}; " \
                                        f"{answer['description']}"
            documented[sent] = answer
