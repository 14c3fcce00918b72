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
from crud.http.schema import detail_parameters
from crud.model.resource import Resource
from crud.sql.aggregates import Aggregates
from crud.sql.facets import Facets
from crud.sql.pages import Pages
from crud.sql.reader import Reader
from crud.sql.statements import Statements
from crud.sql.validators import validator_for

__all__ = ["build_aggregate", "build_endpoints", "build_router", "served_routes"]


def build_endpoints(resource: Resource, reader: Reader, api: ApiSpec, *, secret: bytes,
                    credentials: Credentials, public_url: str | None = None) -> Endpoints:
    codec = CursorCodec(secret, resource.sort_leaves)
    profile = profile_for(resource, api, codec)
    budget = reader.backend.statement_budget(resource.spec.statement_timeout_ms,
                                             api.statement_timeout_ms)
    statements = Statements(resource, reader.backend, json_rows=profile.renderer.json_rows)
    pages = Pages(resource, statements, reader, budget_ms=budget)
    facets = Facets(statements, reader, budget_ms=resource.spec.facet_timeout_ms
                    or api.facet_timeout_ms) if resource.facets else None
    return Endpoints(resource, profile, pages, cache=CachePolicy.for_resource(resource.spec, api),
                     max_query_length=api.max_query_length,
                     check=credentials.check(auth_kind(resource.spec, api)),
                     public_url=public_url, validator=validator_for(resource, reader.backend),
                     facets=facets)


def build_aggregate(endpoints: Endpoints, api: ApiSpec) -> AggregateEndpoint | None:
    """``GET /<name>/aggregate`` of a resource with ``aggregate:``. Its body is its own, so
    every profile serves it (the legacy one refuses ``aggregate:`` in the registry: the old
    API had no such route), speaking the standard query language."""
    if endpoints.resource.aggregate is None:
        return None
    pages = endpoints.pages
    aggregates = Aggregates(pages.statements, pages.reader, budget_ms=pages.budget_ms)
    return AggregateEndpoint(endpoints, aggregates, api)


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


def build_router(endpoints: Endpoints, routes: list[tuple[PathRoute, Endpoint]]) -> APIRouter:
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
        if route.kind == "aggregate":
            assert isinstance(handler, AggregateEndpoint)
            add_read_route(
                router, path, handler, operation_id=f"aggregate_{plural}",
                summary=f"Grouped counts and metrics of {resource.name}",
                description="The rows the list's filters and search select, grouped; see "
                            "docs/analytics.md.",
                openapi_extra={"parameters": handler.parameters},
                response_model=handler.model, responses=aggregate_responses(handler.model))
        elif route.kind == "list":
            add_read_route(
                router, path, handler, operation_id=f"list_{plural}{at}",
                summary=f"List {resource.name}{suffix}"
                        + ("" if route.default else f" at {path}"),
                description=resource.spec.description or "",
                openapi_extra={"parameters": [*bound, *listed]}, **profile.list_route)
        else:
            by = names if route.default else ", ".join(b.leaf.name for b in route.bindings)
            parameters = detail_parameters(resource) if route.default else bound
            add_read_route(
                router, path, handler, operation_id=f"get_{resource.singular}{at}",
                summary=f"One of {resource.name} by {by}{suffix}",
                openapi_extra={"parameters": [*parameters, *shape]}, **profile.detail_route)
    return router


def _slug(template: Template) -> str:
    return "_".join(segment.literal.replace("-", "_").replace(".", "_")
                    if segment.literal is not None else f"by_{segment.parameter}"
                    for segment in template.segments)
