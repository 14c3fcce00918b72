"""``build_router``: one bound resource in, an ``APIRouter`` with its list and detail out.

A list request reads top to bottom: parse the query, plan it, run the page statement, the
to-many statements (one per to-many field, for the whole page) and the count, shape the
rows, send. Everything that does not depend on the request was prepared above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import or_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from starlette.responses import Response

from crud.config.registry import ApiSpec
from crud.http.caching import CACHE_HEADERS, NOT_MODIFIED, CachePolicy, not_modified
from crud.http.cursors import CursorCodec, cursor_secret
from crud.http.errors import (
    PROBLEM_JSON,
    BadRequest,
    InvalidParameter,
    NotFound,
    ParameterError,
    ServiceUnavailable,
)
from crud.http.filtering import build_filter_model, exists_along, filter_criteria, value_type
from crud.http.legacy import add_legacy_routes, legacy_options
from crud.http.methods import add_read_route
from crud.http.openapi import PROBLEM_REF
from crud.http.pagination import envelope, page_model, page_params_model
from crud.http.paging import (
    CURSOR_PARAMETERS,
    Pager,
    openapi_headers,
    openapi_parameters,
    openapi_responses,
)
from crud.http.params import ListRequest, ListRequestParser
from crud.http.rows import RowShaper, dumps, many_values
from crud.http.schema import (
    detail_parameters,
    item_model,
    list_parameters,
    model_name,
)
from crud.model.resource import Resource
from crud.sql.budgets import budget_engine, is_timeout, start_budget
from crud.sql.counting import Counter
from crud.sql.query import ListPlan, StatementBuilder

__all__ = ["build_router"]

JSON = "application/json"


class ResourceEndpoints:
    """The request handlers of one resource and everything they prepared at startup."""

    def __init__(self, resource: Resource, engine: AsyncEngine, api: ApiSpec) -> None:
        self.resource = resource
        self.engine = budget_engine(engine, resource.spec.statement_timeout_ms,
                                    api.statement_timeout_ms)
        self.builder = StatementBuilder(resource, engine.dialect.name)
        filter_model = build_filter_model(resource, self.builder.filter_columns(),
                                          api.max_list_values)
        self.params_model = page_params_model(model_name(resource), resource.page_size,
                                              resource.max_page_size)
        self.parser = ListRequestParser(
            resource, params_model=self.params_model, filter_model=filter_model,
            max_list_values=api.max_list_values, max_query_length=api.max_query_length,
            extra_parameters=CURSOR_PARAMETERS)
        self.shaper = RowShaper(resource.nodes, resource.row_leaves)
        self.search_columns = [self.builder.filter_joins.column(leaf) for leaf in resource.search]
        self.pk_adapters = [TypeAdapter(value_type(leaf)) for leaf in resource.primary_key]
        self.counter = Counter(self.builder, resource.spec.count or api.count, self.engine)
        codec = CursorCodec(cursor_secret(), list(resource.leaves.values()))
        self.pager = Pager(resource, self.builder, codec,
                           max_offset=_first_set(resource.spec.max_offset, api.max_offset))
        self.cache = CachePolicy.for_resource(resource.spec, api)

    async def list_rows(self, request: Request) -> Response:
        query = self.parser.parse(request.query_params, request.url.query)
        plan = self.plan(query)
        window = self.pager.window(request, query, plan)
        policy = self.counter.request(request.query_params.get("count"))
        async with self.connection() as connection:
            rows = (await connection.execute(*self.pager.statement(window))).all()
            items = await self.shape(connection, rows)
            total = await self.counter.total(connection, plan, returned=len(rows),
                                             position=window.position,
                                             limit=window.plan.limit, policy=policy)
        next_cursor = self.pager.next_cursor(window, rows, total)
        status, headers = self.pager.headers(request, window, len(rows), total, next_cursor)
        body = dumps(envelope(items, total.value, window.page, window.size,
                              next_cursor=next_cursor))
        return self.respond(request, body, headers, status)

    async def get_row(self, request: Request) -> Response:
        # Read from the path, not the signature: the parameter is documented with the
        # primary key's own type by ``detail_parameters``, not as FastAPI's plain string.
        id = request.path_params["id"]
        _refuse_query(request)
        return self.respond(request, dumps(await self.fetch_one(id)), {})

    async def fetch_one(self, raw_id: str) -> dict[str, Any]:
        """The item with primary key ``raw_id`` (as written in the URL), or a 404 problem."""
        values = self.parse_id(raw_id)
        async with self.connection() as connection:
            rows = (await connection.execute(self.builder.detail(),
                                             self.builder.detail_params(values))).all()
            if not rows:
                raise NotFound(f"No {self.resource.singular.replace('_', ' ')} with id {raw_id!r}.")
            items = await self.shape(connection, rows)
        return items[0]

    # -- steps --------------------------------------------------------------------------

    def plan(self, query: ListRequest) -> ListPlan:
        criteria: list[ColumnElement[bool]] = []
        leaves = list(query.filter_leaves)
        if query.filters is not None:
            criteria.append(filter_criteria(query.filters))
        if query.search is not None:
            criteria.append(self.search_clause(query.search))
            leaves.extend(self.resource.search)
        raw = query.params.to_raw_params()
        return ListPlan(criteria=criteria, criteria_leaves=leaves,
                        order=self.builder.with_pk_tiebreak(query.order),
                        limit=raw.limit or self.resource.page_size, offset=raw.offset or 0)

    def search_clause(self, text: str) -> ColumnElement[bool]:
        terms = []
        for leaf, column in zip(self.resource.search, self.search_columns, strict=True):
            term = column.icontains(text, autoescape=True)
            terms.append(exists_along(self.resource, leaf, term) if leaf.to_many else term)
        return or_(*terms)

    async def shape(self, connection: AsyncConnection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        if not self.resource.many_fields or not rows:
            return [self.shaper(row) for row in rows]
        keys = [self.resource.pk_values(row) for row in rows]
        lists: dict[str, dict[tuple[Any, ...], list[Any]]] = {}
        pk_count = len(self.resource.primary_key)
        for field in self.resource.many_fields:
            result = await connection.execute(self.builder.many(field, keys))
            lists[field.name] = many_values(field, result.all(), pk_count)
        return [
            self.shaper(row, {name: grouped.get(key, []) for name, grouped in lists.items()})
            for row, key in zip(rows, keys, strict=True)
        ]

    def parse_id(self, raw: str) -> list[Any]:
        parts = raw.split(",") if len(self.pk_adapters) > 1 else [raw]
        if len(parts) != len(self.pk_adapters):
            names = ",".join(leaf.name for leaf in self.resource.primary_key)
            raise InvalidParameter(f"id: expected {len(self.pk_adapters)} comma-separated "
                                   f"values ({names})", errors=[ParameterError("id", "wrong arity")])
        try:
            return [adapter.validate_python(part)
                    for adapter, part in zip(self.pk_adapters, parts, strict=True)]
        except ValidationError as error:
            message = error.errors(include_url=False)[0]["msg"]
            raise InvalidParameter(f"id: {message}",
                                   errors=[ParameterError("id", message)]) from None

    def connection(self) -> _GuardedConnection:
        return _GuardedConnection(self.engine)

    def respond(self, request: Request, body: bytes, headers: dict[str, str],
                status: int = 200) -> Response:
        headers = {**headers, **self.cache.headers(body)}
        if self.cache.fresh(request, headers):
            return not_modified(headers)
        if request.method == "HEAD":
            headers = {**headers, "Content-Length": str(len(body))}
            return Response(b"", status, media_type=JSON, headers=headers)
        return Response(body, status, media_type=JSON, headers=headers)


class _GuardedConnection:
    """``engine.connect()`` that turns timeouts and outages into 503 problems."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.context: Any = None

    async def __aenter__(self) -> AsyncConnection:
        self.context = self.engine.connect()
        try:
            connection: AsyncConnection = await self.context.__aenter__()
        except (DBAPIError, OSError) as error:
            raise ServiceUnavailable("The database is unavailable; try again shortly.") from error
        try:
            await start_budget(connection)
        except BaseException as error:
            await self.__aexit__(type(error), error, error.__traceback__)
            raise
        return connection

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        await self.context.__aexit__(exc_type, exc, traceback)
        if isinstance(exc, DBAPIError):
            if is_timeout(exc):
                raise ServiceUnavailable("The query took longer than this API allows; "
                                         "narrow it with filters or a smaller page.") from exc
            if exc.connection_invalidated:
                raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc


def _refuse_query(request: Request) -> None:
    # A detail takes no query parameters; a stray one (a filter meant for the list) is a
    # mistake the client should hear about, as on lists.
    names = list(dict.fromkeys(request.query_params.keys()))
    if names:
        raise BadRequest(
            f"Unknown query parameter {', '.join(repr(name) for name in names)}. "
            "A single row takes no query parameters.",
            errors=[ParameterError(name, "unknown parameter") for name in names])


def _first_set(value: int | None, default: int | None) -> int | None:
    return value if value is not None else default


def _responses(page_or_item: Any, headers: dict[str, Any]) -> dict[int | str, Any]:
    problem = {"content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    return {
        200: {"model": page_or_item, "headers": {**headers, **CACHE_HEADERS}},
        304: NOT_MODIFIED,
        400: {"description": "Unknown or repeated parameter, or query string too long", **problem},
        404: {"description": "Not found", **problem},
        422: {"description": "A parameter value does not fit", **problem},
        500: {"description": "Unexpected server error (logged; never a stack trace)", **problem},
        503: {"description": "Database unavailable or query too slow", **problem},
    }


def build_router(resource: Resource, engine: AsyncEngine, api: ApiSpec) -> APIRouter:
    endpoints = ResourceEndpoints(resource, engine, api)
    item = item_model(resource)
    page = page_model(model_name(resource), item)
    plural = resource.name.replace("-", "_")
    router = APIRouter(prefix=f"/{resource.name}", tags=[resource.name])
    legacy = legacy_options(resource, api)
    if legacy is not None:  # the old API's wire contract instead of the standard one
        return add_legacy_routes(router, endpoints, legacy, api)
    range_header = {"Content-Range": {
        "description": f"`{resource.name} <first>-<last>/<total>` (0-based, inclusive); "
                       f"`{resource.name} */<total>` for an empty page; total `*` when not counted",
        "schema": {"type": "string",
                   # A Range in `items` is answered in `items`.
                   "pattern": f"^({resource.name}|items) ([0-9]+-[0-9]+|\\*)/([0-9]+|\\*)$"},
    }, **openapi_headers(resource)}
    problem = {"content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    add_read_route(
        router, "", endpoints.list_rows, operation_id=f"list_{plural}",
        summary=f"List {resource.name}", description=resource.spec.description or "",
        response_model=page, responses={**_responses(page, range_header),
                                        **openapi_responses(page, range_header, problem)},
        openapi_extra={"parameters": [
            *list_parameters(resource, api.max_list_values),
            *openapi_parameters(resource, endpoints.counter.cheaper_kinds)]},
    )
    if resource.spec.detail:
        names = ",".join(leaf.name for leaf in resource.primary_key)
        add_read_route(
            router, "/{id}", endpoints.get_row, operation_id=f"get_{resource.singular}",
            summary=f"One of {resource.name} by {names}", response_model=item,
            responses=_responses(item, {}),
            openapi_extra={"parameters": detail_parameters(resource)},
        )
    return router
