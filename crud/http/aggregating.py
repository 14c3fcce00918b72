"""``GET /<name>/aggregate``: grouped metrics over the rows a list's filters select.

Parse once (the list's filter, boolean group and search steps plus ``GroupByStep``), read
one page of groups (one statement, its number of groups riding along), answer
``{"groups": [...], "total_groups": N, "page", "size", "pages"}`` with a Content-Range in
``groups`` and the list's caching and auth. The typed response model is built here too.
"""

from __future__ import annotations

import datetime as dt
from math import ceil
from typing import Any

from pydantic import BaseModel, Field, create_model
from starlette.requests import Request
from starlette.responses import Response

from crud.config.registry import ApiSpec
from crud.http.endpoints import Endpoints, database_errors
from crud.http.listquery import QueryParser
from crud.http.pagination import content_range
from crud.http.rollups import rollup_headers
from crud.http.rows import encoder
from crud.http.schema import model_name
from crud.http.steps.aggregate import GroupByStep
from crud.http.steps.filters import FilterStep
from crud.http.steps.groups import GroupStep
from crud.http.steps.search import SearchStep
from crud.model.analytics import Metric
from crud.model.resource import Resource
from crud.sql.aggregates import AggregateRequest, Aggregates
from crud.sql.requests import Selection
from crud.sql.rollupkeeper import ResourceRollups

__all__ = ["GROUPS_UNIT", "AggregateEndpoint", "aggregate_model"]

GROUPS_UNIT = "groups"  # the Content-Range unit of a page of groups


class AggregateEndpoint:
    """The ``/aggregate`` handler of one resource, beside its list (``endpoints``)."""

    def __init__(self, endpoints: Endpoints, aggregates: Aggregates, api: ApiSpec, *,
                 rollups: ResourceRollups | None = None) -> None:
        resource = endpoints.resource
        self.rollups = rollups  # answers the requests a rollup covers (docs/rollups.md)
        assert resource.aggregate is not None
        self.endpoints = endpoints
        self.aggregates = aggregates
        self.filters = FilterStep(resource, max_list_values=api.max_list_values)
        self.search = SearchStep(resource)
        self.groups = GroupStep(resource, self.filters, max_depth=api.max_group_depth,
                                max_terms=api.max_group_terms)
        self.grouping = GroupByStep(resource.aggregate, page_size=resource.page_size,
                                  max_page_size=resource.max_page_size)
        self.parser = QueryParser([self.filters, self.groups, self.search, self.grouping],
                                  api.max_query_length, endpoints.parser.public_url)
        self.model = aggregate_model(resource)
        self.encode = encoder(resource.naive_utc)

    def __repr__(self) -> str:
        return f"AggregateEndpoint({self.endpoints.resource.name!r})"

    @property
    def parameters(self) -> list[dict[str, Any]]:
        steps = (self.grouping, self.search, self.filters, self.groups)
        return [parameter.openapi() for step in steps for parameter in step.parameters]

    async def __call__(self, request: Request) -> Response:
        if self.endpoints.check is not None:
            await self.endpoints.check(request)
        query = self.parser.parse(request)
        ask = query.part(self.grouping)
        offset = (ask.page - 1) * ask.size
        selection = Selection(query.part(self.filters), query.part(self.search),
                              query.part(self.groups))
        wanted = AggregateRequest(selection, ask.groups, ask.metrics, ask.having, ask.order, ask.size,
                                  offset)
        kept = self.rollups.groups(wanted) if self.rollups is not None else None
        if kept is not None:
            groups, headers = kept[0], rollup_headers(kept[1])
        else:
            with database_errors():
                groups = await self.aggregates.read(wanted, scope=self.endpoints.scope(request))
            headers = {}
        total = groups.total
        body = {"groups": groups.rows, "total_groups": total, "page": ask.page,
                "size": ask.size, "pages": ceil(total / ask.size) if total is not None else None}
        headers["Content-Range"] = content_range(GROUPS_UNIT, offset, len(groups.rows), total)
        return self.endpoints.respond(request, self.encode(body), headers)


def aggregate_model(resource: Resource) -> type[BaseModel]:
    """The typed ``/aggregate`` body: group fields typed from their columns (a bucket is a
    date-time), counts integers, sums and averages numbers, min/max as their field."""
    aggregate = resource.aggregate
    assert aggregate is not None
    name = model_name(resource)
    fields: dict[str, Any] = {}
    for index, (field, leaf) in enumerate(aggregate.group_by.items()):
        python_type = dt.datetime if aggregate.buckets(leaf) else leaf.info.python_type
        fields[f"g{index}"] = (python_type | None, Field(
            None, alias=field, description=f"The group's {field} (present when grouped by it)"))
    for index, metric in enumerate(aggregate.metrics.values()):
        fields[f"m{index}"] = (_metric_type(metric) | None, Field(
            None, alias=metric.name, description=_describe(metric)))
    group = create_model(f"{name}Group", **fields)
    model: type[BaseModel] = create_model(
        f"{name}Aggregate",
        groups=(list[group], Field(description="One page of groups")),
        total_groups=(int | None, Field(description="How many groups there are")),
        page=(int, Field(description="Page number, from 1")),
        size=(int, Field(description="Groups per page")),
        pages=(int | None, Field(description="Number of pages at this size")))
    return model


def _metric_type(metric: Metric) -> Any:
    if metric.leaf is None:
        return int
    if metric.function in {"sum", "avg"}:
        return float
    return metric.leaf.info.python_type


def _describe(metric: Metric) -> str:
    if metric.leaf is None:
        return "Selected rows in the group (present when asked for in metrics)"
    return (f"The {metric.function} of {metric.leaf.name} over the group's rows, nulls "
            "ignored (present when asked for in metrics)")
