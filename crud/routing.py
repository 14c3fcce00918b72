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

from crud.caching import CACHE_HEADERS, NOT_MODIFIED, CachePolicy, not_modified
from crud.errors import PROBLEM_JSON, InvalidParameter, NotFound, ParameterError, ServiceUnavailable
from crud.filtering import build_filter_model, exists_along, filter_criteria
from crud.pagination import content_range, envelope, page_model, page_params_model
from crud.params import ListRequest, ListRequestParser
from crud.query import ListPlan, StatementBuilder
from crud.registry import ApiSpec
from crud.resource import Resource
from crud.rows import RowShaper, dumps, many_values
from crud.schema import PROBLEM_SCHEMA, item_model, list_parameters, model_name

__all__ = ["build_router"]

JSON = "application/json"


class ResourceEndpoints:
    """The request handlers of one resource and everything they prepared at startup."""

    def __init__(self, resource: Resource, engine: AsyncEngine, api: ApiSpec) -> None:
        self.resource = resource
        self.engine = engine
        self.builder = StatementBuilder(resource, engine.dialect.name)
        filter_model = build_filter_model(resource, self.builder.filter_columns(),
                                          api.max_list_values)
        self.params_model = page_params_model(model_name(resource), resource.page_size,
                                              resource.max_page_size)
        self.parser = ListRequestParser(
            resource, params_model=self.params_model, filter_model=filter_model,
            max_list_values=api.max_list_values, max_query_length=api.max_query_length)
        self.shaper = RowShaper(resource.nodes, resource.row_leaves)
        self.search_columns = [self.builder.filter_joins.column(leaf) for leaf in resource.search]
        self.pk_adapters = [TypeAdapter(leaf.info.python_type) for leaf in resource.primary_key]
        self.cache = CachePolicy.for_resource(resource.spec, api)

    async def list_rows(self, request: Request) -> Response:
        query = self.parser.parse(request.query_params, request.url.query)
        plan = self.plan(query)
        async with self.connection() as connection:
            rows = (await connection.execute(*self.builder.page_with_params(plan))).all()
            items = await self.shape(connection, rows)
            total = await self.count(connection, plan, len(rows))
        headers = {"Content-Range": content_range(self.resource.name, plan.offset, len(rows), total)}
        body = dumps(envelope(items, total, query.params.page, query.params.size))
        return self.respond(request, body, headers)

    async def get_row(self, request: Request, id: str) -> Response:
        values = self.parse_id(id)
        async with self.connection() as connection:
            rows = (await connection.execute(self.builder.detail(),
                                             self.builder.detail_params(values))).all()
            if not rows:
                raise NotFound(f"No {self.resource.singular.replace('_', ' ')} with id {id!r}.")
            items = await self.shape(connection, rows)
        return self.respond(request, dumps(items[0]), {})

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

    async def count(self, connection: AsyncConnection, plan: ListPlan, returned: int) -> int | None:
        # A short first page already tells the total: no COUNT statement needed.
        if plan.offset == 0 and returned < plan.limit:
            return returned
        return int((await connection.execute(self.builder.count(plan))).scalar_one())

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

    def respond(self, request: Request, body: bytes, headers: dict[str, str]) -> Response:
        headers = {**headers, **self.cache.headers(body)}
        if self.cache.fresh(request, headers):
            return not_modified(headers)
        if request.method == "HEAD":
            headers = {**headers, "Content-Length": str(len(body))}
            return Response(b"", media_type=JSON, headers=headers)
        return Response(body, media_type=JSON, headers=headers)


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
        return connection

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        await self.context.__aexit__(exc_type, exc, traceback)
        if isinstance(exc, DBAPIError):
            if _is_timeout(exc):
                raise ServiceUnavailable("The query took longer than this API allows; "
                                         "narrow it with filters or a smaller page.") from exc
            if exc.connection_invalidated:
                raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc


def _is_timeout(error: DBAPIError) -> bool:
    text = f"{type(error.orig).__name__} {error.orig}".lower()
    return any(marker in text for marker in (
        "querycancelederror", "statement timeout", "max_statement_time", "interrupted"))


def _responses(page_or_item: Any, headers: dict[str, Any]) -> dict[int | str, Any]:
    problem = {"content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
    return {
        200: {"model": page_or_item, "headers": {**headers, **CACHE_HEADERS}},
        304: NOT_MODIFIED,
        400: {"description": "Unknown or repeated parameter", **problem},
        404: {"description": "Not found", **problem},
        422: {"description": "A parameter value does not fit", **problem},
        503: {"description": "Database unavailable or query too slow", **problem},
    }


def build_router(resource: Resource, engine: AsyncEngine, api: ApiSpec) -> APIRouter:
    endpoints = ResourceEndpoints(resource, engine, api)
    item = item_model(resource)
    page = page_model(model_name(resource), item)
    plural = resource.name.replace("-", "_")
    router = APIRouter(prefix=f"/{resource.name}", tags=[resource.name])
    range_header = {"Content-Range": {
        "description": f"`{resource.name} <first>-<last>/<total>` (0-based, inclusive); "
                       f"`{resource.name} */<total>` for an empty page; total `*` when not counted",
        "schema": {"type": "string"},
    }}
    router.add_api_route(
        "", endpoints.list_rows, methods=["GET"], operation_id=f"list_{plural}",
        summary=f"List {resource.name}", description=resource.spec.description or "",
        response_model=page, responses=_responses(page, range_header),
        openapi_extra={"parameters": list_parameters(resource, api.max_list_values)},
    )
    router.add_api_route("", endpoints.list_rows, methods=["HEAD"], include_in_schema=False)
    if resource.spec.detail:
        names = ",".join(leaf.name for leaf in resource.primary_key)
        router.add_api_route(
            "/{id}", endpoints.get_row, methods=["GET"], operation_id=f"get_{resource.singular}",
            summary=f"One of {resource.name} by {names}", response_model=item,
            responses=_responses(item, {}),
        )
        router.add_api_route("/{id}", endpoints.get_row, methods=["HEAD"], include_in_schema=False)
    return router
