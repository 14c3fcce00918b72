"""Profiles: which steps a resource's list runs, how its bodies look, how its routes read.

``standard`` is this API's own contract (page/size/cursor/Range, counts, the envelope);
``legacy`` is an older API's wire contract (page/per_page, 206, a bare array, Flask's
bytes, no count). Both are peers built from the same steps; a client dialect is one more
builder here with its paging step and renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from crud.config.registry import ApiSpec, CountPolicy, LegacySpec, RegistryIssue
from crud.config.yamlfile import LocatedData
from crud.http.caching import CACHE_HEADERS, NOT_MODIFIED
from crud.http.cursors import CursorCodec
from crud.http.errors import PROBLEM_JSON
from crud.http.legacy import LegacyEncoder, legacy_model, legacy_options
from crud.http.listquery import Parameter, Step
from crud.http.openapi import PROBLEM_REF
from crud.http.pagination import page_model
from crud.http.renderers import ArrayRenderer, EnvelopeRenderer, Renderer
from crud.http.schema import item_model, model_name
from crud.http.steps.count import CountStep
from crud.http.steps.facets import FacetStep, faceted_page_model
from crud.http.steps.filters import FilterStep
from crud.http.steps.legacy_paging import LegacyPageStep
from crud.http.steps.paging import PageStep, openapi_headers
from crud.http.steps.search import SearchStep
from crud.http.steps.sort import SortStep
from crud.model.resource import Resource

__all__ = [
    "RESERVED_NAMES",
    "Profile",
    "aggregate_responses",
    "legacy_profile",
    "parameter_clashes",
    "profile_for",
    "standard_profile",
]

_PROBLEM = {"content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
# Query parameters of the standard profile that are not filters: a filter may not take one.
RESERVED_NAMES = frozenset(name for step in (PageStep, SortStep, SearchStep, CountStep,
                                                       FacetStep)
                           for name in step.names)


@dataclass(frozen=True)
class Profile:
    """The steps of a list, in the order they run, plus the renderer and the route docs."""

    name: str
    filters: FilterStep
    search: SearchStep
    sort: SortStep
    paging: PageStep | LegacyPageStep
    renderer: Renderer
    count: CountStep | None = None
    facets: FacetStep | None = None
    # Route documentation: FastAPI route keyword arguments for the list and the detail.
    list_route: dict[str, Any] = field(default_factory=dict)
    detail_route: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> list[Step[Any]]:
        steps: list[Step[Any]] = [self.filters, self.search, self.sort]
        if self.count is not None:
            steps.append(self.count)
        if self.facets is not None:
            steps.append(self.facets)
        steps.append(self.paging)
        return steps

    @property
    def parameters(self) -> list[Parameter]:
        """Every parameter, documented paging first (as a form would ask for them)."""
        steps: list[Step[Any]] = [self.paging, self.sort, self.search, self.filters]
        if self.count is not None:
            steps.append(self.count)
        if self.facets is not None:
            steps.append(self.facets)
        return [parameter for step in steps for parameter in step.parameters]


def profile_for(resource: Resource, api: ApiSpec, codec: CursorCodec) -> Profile:
    options = legacy_options(resource, api)
    if options is not None:
        return legacy_profile(resource, api, options)
    return standard_profile(resource, api, codec)


def standard_profile(resource: Resource, api: ApiSpec, codec: CursorCodec) -> Profile:
    max_offset = _first_set(resource.spec.max_offset, api.max_offset)
    policy: CountPolicy = resource.spec.count or api.count
    item = item_model(resource)
    page = (faceted_page_model(model_name(resource), item, resource.facets) if resource.facets
            else page_model(model_name(resource), item))
    headers = openapi_headers(resource)
    return Profile(
        name="standard",
        filters=FilterStep(resource, max_list_values=api.max_list_values),
        search=SearchStep(resource), sort=SortStep(resource), count=CountStep(policy),
        facets=FacetStep(resource), paging=PageStep(resource, codec, max_offset=max_offset),
        renderer=EnvelopeRenderer(),
        list_route={"response_model": page, "responses": {
            **_responses(page, headers),
            206: {"model": page, "headers": headers, "description": "The rows a Range asked for"},
            416: {"description": "The Range starts after the last row; Content-Range gives "
                                 "the total", **_PROBLEM}}},
        detail_route={"response_model": item, "responses": _responses(item, {})},
    )


def legacy_profile(resource: Resource, api: ApiSpec, options: LegacySpec) -> Profile:
    max_offset = _first_set(resource.spec.max_offset, api.max_offset)
    paging = LegacyPageStep(resource, options, max_offset=max_offset)
    item = legacy_model(item_model(resource))
    range_header = {"Content-Range": {
        "description": f"`{paging.unit} <first>-<last>/*`: the rows asked for, 1-based "
                       "inclusive (page and per_page), whether or not they exist; never a total",
        "schema": {"type": "string"}}}
    responses = _responses(None, range_header, ok=206, description="The old API's contract")
    responses[400]["description"] += ", or a page beyond max_offset"
    return Profile(
        name="legacy",
        filters=FilterStep(resource, max_list_values=api.max_list_values),
        search=SearchStep(resource), sort=SortStep(resource), paging=paging,
        renderer=ArrayRenderer(LegacyEncoder(resource.leaves.values())),
        list_route={"status_code": 206, "response_model": list[item],  # type: ignore[valid-type]
                    "responses": responses},
        detail_route={"response_model": item,
                      "responses": _responses(None, {}, description="The old API's contract")},
    )


def _responses(model: type[BaseModel] | None, headers: dict[str, Any], *, ok: int = 200,
               description: str | None = None) -> dict[int | str, Any]:
    success: dict[str, Any] = {"headers": {**headers, **CACHE_HEADERS}}
    if model is not None:
        success["model"] = model
    if description is not None:
        success["description"] = description
    return {
        ok: success,
        304: NOT_MODIFIED,
        400: {"description": "Unknown or repeated parameter, or query string too long",
              **_PROBLEM},
        404: {"description": "Not found", **_PROBLEM},
        422: {"description": "A parameter value does not fit", **_PROBLEM},
        500: {"description": "Unexpected server error (logged; never a stack trace)", **_PROBLEM},
        503: {"description": "Database unavailable or query too slow", **_PROBLEM},
    }


def aggregate_responses(model: type[BaseModel]) -> dict[int | str, Any]:
    """The documented answers of ``/aggregate`` (a page of groups)."""
    headers = {"Content-Range": {
        "description": "`groups <first>-<last>/<total_groups>`, 0-based inclusive "
                       "(`groups */<total>` when the page is empty)",
        "schema": {"type": "string"}}}
    responses = _responses(model, headers)
    del responses[404]
    return responses


def _first_set(value: int | None, default: int | None) -> int | None:
    return value if value is not None else default


def parameter_clashes(resources: Sequence[Resource], api: ApiSpec, *, path: str,
                      located: LocatedData | None) -> list[RegistryIssue]:
    """Query parameters two steps of one resource would both read (a filter named ``page``)."""
    issues = []
    for resource in resources:
        codec = CursorCodec(b"checking names only", list(resource.leaves.values()))
        claims: dict[str, list[str]] = {}
        for step in profile_for(resource, api, codec).steps:
            for parameter in step.parameters:
                claims.setdefault(parameter.name, []).append(type(step).__name__)
        for name, steps in claims.items():
            if len(steps) > 1:
                where = ("resources", resource.name, "filters")
                issues.append(RegistryIssue(
                    path=path, line=located.line_of(where) if located is not None else None,
                    key=".".join(where),
                    message=f"query parameter {name!r} is read by {' and '.join(steps)}; "
                            "rename the field or drop that filter"))
    return issues
