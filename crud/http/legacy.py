"""The ``legacy`` profile: the old Flask API's wire contract, so a dashboard switches URLs first.

Request: ``page`` (from 1) and ``per_page`` (default 10, at most ``max_page_size``, optionally
one of ``per_page_values``); filters, ``order_by`` and ``search`` as in the standard
profile; ``size`` is an unknown parameter. Response: status 206 and a bare JSON array;
``Content-Range: <unit> <first+1>-<page*per_page>/*`` computed from the request alone (the
old API never counted, so no COUNT statement runs); date-times as integer epoch seconds
(naive ones are UTC); and the old encoder's bytes: Flask's ``jsonify`` sorts keys, writes no
spaces, escapes non-ASCII and ends with a newline.

The steps are ``ResourceEndpoints``' own (parse, plan, page statement, shape); only the
paging parameters, the status, the header and the encoding differ.
"""

from __future__ import annotations

import datetime as dt
import json
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import orjson
from fastapi import APIRouter, Request
from fastapi_pagination import Params
from pydantic import AfterValidator, BaseModel, Field, create_model
from starlette.responses import Response

from crud.config.registry import ApiSpec, LegacySpec, Registry, RegistryError
from crud.config.yamlfile import LocatedData
from crud.http.caching import CACHE_HEADERS, NOT_MODIFIED
from crud.http.errors import PROBLEM_JSON, BadRequest, ParameterError
from crud.http.methods import add_read_route
from crud.http.openapi import PROBLEM_REF
from crud.http.params import ListRequestParser
from crud.http.rows import json_default
from crud.http.schema import (
    detail_parameters,
    item_model,
    list_parameters,
    model_name,
)
from crud.model.binding import IssueCollector
from crud.model.fields import Leaf
from crud.model.resource import Resource

if TYPE_CHECKING:  # routing imports this module to hand legacy resources over
    from crud.http.routing import ResourceEndpoints

__all__ = [
    "LEGACY_PAGING",
    "LegacyEncoder",
    "LegacyEndpoints",
    "add_legacy_routes",
    "check_legacy_options",
    "epoch_seconds",
    "legacy_dumps",
    "legacy_model",
    "legacy_options",
    "legacy_range",
]

LEGACY_PAGING = ("page", "per_page")


def legacy_options(resource: Resource, api: ApiSpec) -> LegacySpec | None:
    """The resource's legacy options when it is served in the legacy profile, else None."""
    if (resource.spec.profile or api.profile) != "legacy":
        return None
    return resource.spec.legacy or api.legacy


def check_legacy_options(registry: Registry, located: LocatedData, path: str) -> None:
    """Legacy page sizes within ``max_page_size``; ``RegistryError`` listing every one that is not."""
    collector = IssueCollector(path=path, located=located)
    api = registry.api
    for name, spec in registry.resources.items():
        if (spec.profile or api.profile) != "legacy":
            continue
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
        if "eq" in spec.filters.get("per_page", ()):
            collector.add(("resources", name, "filters", "per_page"),
                          "a filter named 'per_page' clashes with the legacy profile's paging")
    if collector.issues:
        raise RegistryError(collector.issues)


def epoch_seconds(value: dt.datetime) -> int:
    """Whole seconds since 1970-01-01 UTC; naive date-times are UTC by this API's convention."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return epoch_seconds(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return json_default(value)


def legacy_dumps(content: Any) -> bytes:
    """The bytes Flask's ``jsonify`` sends (outside debug mode), date-times as epoch seconds."""
    text = json.dumps(content, default=_default, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True)
    return f"{text}\n".encode("ascii")


class LegacyEncoder:
    """``legacy_dumps``, through orjson when that gives the same bytes (about 3x faster).

    orjson with sorted keys writes what ``json.dumps`` does except for floats (exponent
    spelling, NaN), non-ASCII text and DEL (which ``ensure_ascii`` escapes). Resources
    without number or JSON fields cannot produce floats; the bytes are checked for the rest.
    """

    _OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE

    def __init__(self, leaves: Iterable[Leaf]) -> None:
        self.fast = all(leaf.info.kind not in {"number", "json"} for leaf in leaves)

    def __call__(self, content: Any) -> bytes:
        if self.fast:
            body = orjson.dumps(content, default=_default, option=self._OPTIONS)
            if body.isascii() and b"\x7f" not in body:
                return body
        return legacy_dumps(content)

    def __repr__(self) -> str:
        return f"LegacyEncoder(fast={self.fast})"


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
    if annotation is dt.datetime:
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


class LegacyEndpoints:
    """List and detail handlers of one resource in the legacy profile."""

    def __init__(self, endpoints: ResourceEndpoints, options: LegacySpec) -> None:
        self.endpoints = endpoints
        resource = endpoints.resource
        self.unit = options.unit or resource.name
        self.dumps = LegacyEncoder(resource.leaves.values())
        standard = endpoints.parser
        self.parser = ListRequestParser(
            resource,
            params_model=legacy_params_model(model_name(resource), options,
                                             resource.max_page_size),
            filter_model=standard.filter_model, max_list_values=standard.max_list_values,
            max_query_length=standard.max_query_length, paging=LEGACY_PAGING)

    async def list_rows(self, request: Request) -> Response:
        endpoints = self.endpoints
        query = self.parser.parse(request.query_params, request.url.query)
        plan = endpoints.plan(query)
        self.check_offset(plan.offset)
        async with endpoints.connection() as connection:
            rows = (await connection.execute(endpoints.builder.page(plan))).all()
            items = await endpoints.shape(connection, rows)
        headers = {"Content-Range": legacy_range(self.unit, query.params.page, query.params.size)}
        # The resource's ETag and Cache-Control come too: new headers, ignored by old clients.
        return endpoints.respond(request, self.dumps(items), headers, 206)

    async def get_row(self, request: Request) -> Response:
        endpoints = self.endpoints
        raw = request.path_params["id"]  # documented with the key's type, as the standard route
        return endpoints.respond(request, self.dumps(await endpoints.fetch_one(raw)), {})

    def check_offset(self, offset: int) -> None:
        # The standard profile's max_offset; legacy clients have no cursor to go deeper with.
        limit = self.endpoints.pager.max_offset
        if limit is not None and offset > limit:
            reason = (f"offset {offset} is beyond this list's max_offset {limit}; "
                      "narrow the list with filters")
            raise BadRequest(f"page: {reason}.", errors=[ParameterError("page", reason)])


def _parameters(resource: Resource, options: LegacySpec, max_list_values: int) -> list[Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 1,
                              "maximum": resource.max_page_size, "default": options.per_page}
    if options.per_page_values is not None:
        schema["enum"] = list(options.per_page_values)
    per_page = {"name": "per_page", "in": "query", "required": False, "schema": schema,
                "description": f"Rows per page, at most {resource.max_page_size}"}
    return [per_page if parameter["name"] == "size" else parameter
            for parameter in list_parameters(resource, max_list_values)]


def _responses(ok: int, headers: dict[str, Any]) -> dict[int | str, Any]:
    # The standard routes' error responses (crud.http.routing), with the legacy success status.
    problem = {"content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    return {
        ok: {"description": "The old API's contract", "headers": {**headers, **CACHE_HEADERS}},
        304: NOT_MODIFIED,
        400: {"description": "Unknown or repeated parameter, query string too long, or a page "
                             "beyond max_offset", **problem},
        404: {"description": "Not found", **problem},
        422: {"description": "A parameter value does not fit", **problem},
        500: {"description": "Unexpected server error (logged; never a stack trace)", **problem},
        503: {"description": "Database unavailable or query too slow", **problem},
    }


def add_legacy_routes(router: APIRouter, endpoints: ResourceEndpoints, options: LegacySpec,
                      api: ApiSpec) -> APIRouter:
    """The legacy list (and detail) routes of ``endpoints.resource`` on ``router``."""
    resource = endpoints.resource
    legacy = LegacyEndpoints(endpoints, options)
    item = legacy_model(item_model(resource))
    plural = resource.name.replace("-", "_")
    range_header = {"Content-Range": {
        "description": f"`{legacy.unit} <first>-<last>/*`: the rows asked for, 1-based "
                       "inclusive (page and per_page), whether or not they exist; never a total",
        "schema": {"type": "string"},
    }}
    add_read_route(
        router, "", legacy.list_rows, operation_id=f"list_{plural}",
        summary=f"List {resource.name} (legacy profile)",
        description=resource.spec.description or "", status_code=206,
        response_model=list[item],  # type: ignore[valid-type]
        responses=_responses(206, range_header),
        openapi_extra={"parameters": _parameters(resource, options, api.max_list_values)},
    )
    if resource.spec.detail:
        names = ",".join(leaf.name for leaf in resource.primary_key)
        add_read_route(
            router, "/{id}", legacy.get_row, operation_id=f"get_{resource.singular}",
            summary=f"One of {resource.name} by {names} (legacy profile)", response_model=item,
            responses=_responses(200, {}),
            openapi_extra={"parameters": detail_parameters(resource)},
        )
    return router
