"""Routes of one resource: its endpoints, their OpenAPI description, and the fast path.

``build_endpoints`` prepares everything a resource's requests need (profile, statements,
page reader, cache policy, auth check); ``build_aggregate`` its ``/aggregate`` where the
registry declares one; ``served_routes`` pairs each of its routes (``/<name>``,
``/<name>/{id}`` or the paths of ``routes:``, ``crud.http.pathroutes``) with its handler.
``build_router`` describes them as FastAPI routes: they make the OpenAPI document and answer
what is not a read (405), while reads take the short path of ``crud.http.dispatch`` to the
same handlers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter

from crud.config.registry import ApiSpec
from crud.http.aggregating import AggregateEndpoint
from crud.http.auth import Credentials, auth_kind
from crud.http.caching import CachePolicy
from crud.http.cursors import CursorCodec
from crud.http.dispatch import Endpoint
from crud.http.endpoints import Endpoints
from crud.http.methods import add_read_route
from crud.http.pathroutes import PathEndpoint, PathRoute, Template, resource_routes
from crud.http.profiles import aggregate_responses, profile_for
from crud.http.rollups import ROLLUP_HEADERS
from crud.http.schema import detail_parameters
from crud.model.resource import Resource
from crud.sql.aggregates import Aggregates
from crud.sql.facets import Facets
from crud.sql.pages import Pages
from crud.sql.reader import Reader
from crud.sql.results import ResourceResults, ResultCache
from crud.sql.rollupkeeper import ResourceRollups
from crud.sql.signals import Signals
from crud.sql.statements import Statements
from crud.sql.validators import validator_for

__all__ = ["build_aggregate", "build_endpoints", "build_router", "served_routes"]

# A watchable list (docs/live.md) also answers Accept: text/event-stream.
WATCH_DESCRIPTION = (
    "Watch this list: the same URL with `Accept: text/event-stream` streams Server-Sent "
    "Events (`snapshot`, then `added`, `changed`, `removed` by primary key, `refetch`; "
    "resume with `Last-Event-ID`), and a WebSocket on this path or on `<path>/watch` carries "
    "the same events as JSON frames. See docs/live.md.")
WATCH_CONTENT: dict[str, Any] = {
    "schema": {"type": "string"},
    "example": 'id: 5f0c19d2-0\nevent: snapshot\ndata: {"items": []}\n\n'
               'id: 5f0c19d2-1\nevent: added\ndata: {"key": 7, "item": {"id": 7}, "index": 0}\n\n',
}


def build_endpoints(resource: Resource, reader: Reader, api: ApiSpec, *, secret: bytes,
                    credentials: Credentials, public_url: str | None = None,
                    results: ResultCache | None = None,
                    signals: Signals | None = None) -> Endpoints:
    codec = CursorCodec(secret, resource.sort_leaves)
    validator = validator_for(resource, signals) if signals is not None else None
    profile = profile_for(resource, api, codec)
    budget = reader.backend.statement_budget(resource.spec.statement_timeout_ms,
                                             api.statement_timeout_ms)
    # Pages read plain columns: on PostgreSQL a 50-row page's row_to_json cost the database
    # 0.45 ms of CPU to save this process 0.15-0.19 ms, and put a tail on the page (p99 45
    # ms against 18; bench/analysis.md). A detail's one row costs the database nothing
    # measurable to write, and saves this process ~15 µs: there the renderer takes the text.
    statements = Statements(resource, reader.backend, json_detail=profile.renderer.json_rows)
    kept = _results_of(resource, results)
    pages = Pages(resource, statements, reader, budget_ms=budget, results=kept)
    facets = Facets(statements, reader, budget_ms=resource.spec.facet_timeout_ms
                    or api.facet_timeout_ms, results=kept,
                    kept_budget_ms=budget) if resource.facets else None
    return Endpoints(resource, profile, pages, cache=CachePolicy.for_resource(resource.spec, api),
                     max_query_length=api.max_query_length,
                     check=credentials.check(auth_kind(resource.spec, api)),
                     public_url=public_url, validator=validator,
                     facets=facets)


def build_aggregate(endpoints: Endpoints, api: ApiSpec, *,
                    rollups: ResourceRollups | None = None) -> AggregateEndpoint | None:
    """``GET /<name>/aggregate`` of a resource with ``aggregate:``. Its body is its own, so
    every profile serves it (the legacy one refuses ``aggregate:`` in the registry: the old
    API had no such route), speaking the standard query language."""
    if endpoints.resource.aggregate is None:
        return None
    pages = endpoints.pages
    aggregates = Aggregates(pages.statements, pages.reader, budget_ms=pages.budget_ms,
                            results=pages.results)
    return AggregateEndpoint(endpoints, aggregates, api, rollups=rollups)


def _results_of(resource: Resource, results: ResultCache | None) -> ResourceResults | None:
    """The resource's share of the result cache, where its ``cache: {results: ...}`` asks."""
    spec = resource.spec.cache.results if resource.spec.cache is not None else None
    if results is None or spec is None:
        return None
    # The registry entry is part of every key: a reload that changes the resource (or
    # another API on the same Redis) never reads answers kept for a different definition.
    identity = hashlib.sha256(repr(resource.spec).encode()).hexdigest()[:16]
    return results.for_resource(resource.name, identity, stale_s=spec.stale_s,
                                signal_age_s=spec.signal_age_s)


def served_routes(endpoints: Endpoints,
                  aggregate: AggregateEndpoint | None) -> list[tuple[PathRoute, Endpoint]]:
    """Each route of the resource with the handler that answers it (the same object in the
    fast path's table and in FastAPI's router, so logs and metrics name the resource)."""
    routes, _problems = resource_routes(endpoints.resource)  # refused at startup if any
    served = []
    for route in routes:
        handler: Endpoint
        if route.kind == "aggregate":
            if aggregate is None:
                continue
            handler = aggregate
        elif route.default:
            handler = endpoints.list_read if route.kind == "list" else endpoints.detail_read
        else:
            handler = endpoints.profile.speaking(PathEndpoint(endpoints, route))
        served.append((route, handler))
    return served


def build_router(endpoints: Endpoints, routes: list[tuple[PathRoute, Endpoint]], *,
                 watched: bool = False) -> APIRouter:
    resource, profile = endpoints.resource, endpoints.profile
    plural = resource.name.replace("-", "_")
    suffix = "" if profile.name == "standard" else f" ({profile.name} profile)"
    router = APIRouter(tags=[resource.name])
    shape = [] if profile.shape is None else [p.openapi() for p in profile.shape.parameters]
    listed = [parameter.openapi() for parameter in profile.parameters]
    names = ",".join(leaf.name for leaf in resource.primary_key)
    for route, handler in sorted(routes, key=lambda pair: pair[0].template.rank):
        path = route.template.text
        at = "" if route.default else f"_at_{_slug(route.template)}"
        bound = [binding.openapi() for binding in route.bindings]
        only = "".join(f" Only rows whose {item.param.leaf.name} is {item.value!r}."
                       for item in route.fixed)
        if route.kind == "aggregate":
            assert isinstance(handler, AggregateEndpoint)
            add_read_route(
                router, path, handler, operation_id=f"aggregate_{plural}",
                summary=f"Grouped counts and metrics of {resource.name}",
                description="The rows the list's filters and search select, grouped; see "
                            "docs/analytics.md.",
                openapi_extra={"parameters": handler.parameters},
                response_model=handler.model, responses=_with_rollups(
                    aggregate_responses(handler.model), handler.rollups is not None))
        elif route.kind == "list":
            add_read_route(
                router, path, handler, operation_id=f"list_{plural}{at}",
                summary=f"List {resource.name}{suffix}"
                        + ("" if route.default else f" at {path}"),
                description=_described((resource.spec.description or "") + only, watched),
                openapi_extra=_list_extra([*bound, *listed], profile.list_route, watched),
                **_list_route(profile.list_route, endpoints.rollups is not None
                              and bool(resource.facets)))
        else:
            by = names if route.default else ", ".join(b.leaf.name for b in route.bindings)
            parameters = detail_parameters(resource) if route.default else bound
            add_read_route(
                router, path, handler, operation_id=f"get_{resource.singular}{at}",
                summary=f"One of {resource.name} by {by}{suffix}", description=only.strip(),
                openapi_extra={"parameters": [*parameters, *shape]}, **profile.detail_route)
    return router


def _described(description: str, watched: bool) -> str:
    return f"{description}\n\n{WATCH_DESCRIPTION}".strip() if watched else description


def _list_extra(parameters: list[dict[str, Any]], list_route: dict[str, Any],
                watched: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {"parameters": parameters}
    if watched:  # the same URL also answers Accept: text/event-stream
        status = str(list_route.get("status_code", 200))
        extra["responses"] = {status: {"content": {"text/event-stream": WATCH_CONTENT}}}
    return extra


def _slug(template: Template) -> str:
    return "_".join(segment.literal.replace("-", "_").replace(".", "_")
                    if segment.literal is not None else f"by_{segment.parameter}"
                    for segment in template.segments)


def _with_rollups(responses: dict[int | str, Any], rollups: bool) -> dict[int | str, Any]:
    """The 200 answer's headers plus those of an answer from a rollup, where one may come."""
    if not rollups:
        return responses
    ok = dict(responses[200])
    ok["headers"] = {**ok.get("headers", {}), **ROLLUP_HEADERS}
    return {**responses, 200: ok}


def _list_route(route: dict[str, Any], rollups: bool) -> dict[str, Any]:
    if not rollups or 200 not in route.get("responses", {}):
        return route
    return {**route, "responses": _with_rollups(route["responses"], True)}
