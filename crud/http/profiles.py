"""Profiles: which steps a resource's list runs, how its bodies look, how its routes read.

``standard`` is this API's own contract (page/size/cursor/Range, counts, the envelope);
``legacy`` is an older API's wire contract (page/per_page, 206, a bare array, Flask's
bytes, no count); ``react-admin`` and ``json-server`` are the client dialects of
react-admin's REST data providers (their filter, sort and paging parameters, bare arrays
of records with an ``id``, the total in a header). All are peers built from the same
steps: each builder picks its steps and its renderer.
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
from crud.http.dialects import RecordRenderer, Vocabulary, record_model
from crud.http.errors import PROBLEM_JSON
from crud.http.formats.csvrows import CsvRenderer
from crud.http.formats.ndjson import NdjsonRenderer
from crud.http.legacy import LegacyEncoder, legacy_model, legacy_options
from crud.http.listquery import Parameter, Step
from crud.http.openapi import PROBLEM_REF
from crud.http.pagination import page_model
from crud.http.renderers import ArrayRenderer, EnvelopeRenderer, Renderer
from crud.http.rows import encoder
from crud.http.schema import item_model, model_name
from crud.http.steps.count import CountStep, FixedCount
from crud.http.steps.export import ExportStep, export_limits, openapi_export
from crud.http.steps.facets import FacetStep, faceted_page_model
from crud.http.steps.filters import FilterStep
from crud.http.steps.groups import GroupStep
from crud.http.steps.json_server import (
    TOTAL_COUNT,
    JsFilterStep,
    JsPageStep,
    JsSearchStep,
    JsSortStep,
)
from crud.http.steps.legacy_paging import LegacyPageStep
from crud.http.steps.paging import PageStep, PagingStep, openapi_headers
from crud.http.steps.react_admin import RaFilterStep, RaPageStep, RaSearchStep, RaSortStep
from crud.http.steps.search import SearchStep
from crud.http.steps.shape import ShapeStep
from crud.http.steps.sort import SortStep
from crud.model.resource import Resource
from crud.sql.requests import Filter, OrderItem

__all__ = [
    "RESERVED_NAMES",
    "Profile",
    "aggregate_responses",
    "json_server_profile",
    "legacy_profile",
    "parameter_clashes",
    "profile_for",
    "react_admin_profile",
    "standard_profile",
]

_PROBLEM = {"content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
# Query parameters of the standard profile that are not filters: a filter may not take one.
RESERVED_NAMES = frozenset(name for step in (PageStep, SortStep, SearchStep, CountStep,
                                            ShapeStep, ExportStep, GroupStep,
                                            FacetStep)
                           for name in step.names)


@dataclass(frozen=True)
class Profile:
    """The steps of a list, in the order they run, plus the renderer and the route docs."""

    name: str
    filters: Step[tuple[Filter, ...]]
    search: Step[str | None]
    sort: Step[tuple[OrderItem, ...]]
    paging: PagingStep[Any]
    renderer: Renderer
    count: Step[CountPolicy] | None = None
    shape: ShapeStep | None = None  # fields= and embed=, on lists and details
    export: ExportStep | None = None  # format=csv|ndjson: every row, streamed
    groups: GroupStep | None = None  # or=(...) / and=(...)
    facets: FacetStep | None = None  # facet=: value counts beside the page
    # Route documentation: FastAPI route keyword arguments for the list and the detail.
    list_route: dict[str, Any] = field(default_factory=dict)
    detail_route: dict[str, Any] = field(default_factory=dict)

    @property
    def optional(self) -> list[Step[Any]]:
        """The steps a profile may leave out, in the order they parse; a new step is one
        more field above and one more entry here."""
        steps = (self.groups, self.count, self.facets, self.shape,
                 self.export)  # export before paging: it refuses page/cursor/Range itself
        return [step for step in steps if step is not None]

    @property
    def steps(self) -> list[Step[Any]]:
        return [self.filters, self.search, self.sort, *self.optional, self.paging]

    @property
    def parameters(self) -> list[Parameter]:
        """Every parameter, documented paging first (as a form would ask for them)."""
        steps = [self.paging, self.sort, self.search, self.filters, *self.optional]
        return [parameter for step in steps for parameter in step.parameters
                if parameter.documented]


def profile_for(resource: Resource, api: ApiSpec, codec: CursorCodec) -> Profile:
    options = legacy_options(resource, api)
    if options is not None:
        return legacy_profile(resource, api, options)
    name = resource.spec.profile or api.profile
    if name == "react-admin":
        return react_admin_profile(resource, api)
    if name == "json-server":
        return json_server_profile(resource, api)
    return standard_profile(resource, api, codec)


def standard_profile(resource: Resource, api: ApiSpec, codec: CursorCodec) -> Profile:
    max_offset = _first_set(resource.spec.max_offset, api.max_offset)
    policy: CountPolicy = resource.spec.count or api.count
    item = item_model(resource, shapes=True)
    page = (faceted_page_model(model_name(resource), item, resource.facets) if resource.facets
            else page_model(model_name(resource), item))
    shape = ShapeStep(resource)
    headers = openapi_headers(resource)
    filters = FilterStep(resource, max_list_values=api.max_list_values)
    # A grouped resource's chunks would cut groups: no exports (docs/grouped.md).
    limits = None if resource.group_key else export_limits(resource.spec.export, api)
    encode = encoder(resource.naive_utc)
    export = None if limits is None else ExportStep(
        resource, (CsvRenderer(resource.nodes, encode),
                   NdjsonRenderer(model_name(resource), encode)),
        max_rows=limits[0], chunk_rows=limits[1])
    listed = _responses(page, headers)
    if export is not None:
        content, export_headers = openapi_export(export)
        listed[200]["content"] = content
        listed[200]["headers"].update(export_headers)
    return Profile(
        name="standard", filters=filters,
        groups=GroupStep(resource, filters, max_depth=api.max_group_depth,
                         max_terms=api.max_group_terms),
        search=SearchStep(resource), sort=SortStep(resource), count=CountStep(policy),
        facets=FacetStep(resource),
        paging=PageStep(resource, codec, max_offset=max_offset), shape=shape, export=export,
        renderer=EnvelopeRenderer(encode),
        list_route={"response_model": page, "responses": {
            **listed,
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
        renderer=ArrayRenderer(LegacyEncoder(resource.leaves.values(),
                                             naive_utc=resource.naive_utc)),
        list_route={"status_code": 206, "response_model": list[item],  # type: ignore[valid-type]
                    "responses": responses},
        detail_route={"response_model": item,
                      "responses": _responses(None, {}, description="The old API's contract")},
    )


def react_admin_profile(resource: Resource, api: ApiSpec) -> Profile:
    """ra-data-simple-rest's contract: ``filter``/``sort``/``range`` as JSON, Content-Range."""
    vocabulary = Vocabulary(resource, "react-admin", max_list_values=api.max_list_values)
    headers = {"Content-Range": {
        "description": f"`{resource.name} <first>-<last>/<total>` (0-based, inclusive); "
                       f"`{resource.name} */<total>` for an empty page",
        "schema": {"type": "string"}}}
    return _dialect("react-admin", resource, api, headers,
                    filters=RaFilterStep(vocabulary, search=bool(resource.search)),
                    search=RaSearchStep(), sort=RaSortStep(resource, SortStep(resource)),
                    paging=RaPageStep(resource, max_offset=_max_offset(resource, api)))


def json_server_profile(resource: Resource, api: ApiSpec) -> Profile:
    """ra-data-json-server's contract: plain filters, ``_sort``/``_start``..., X-Total-Count."""
    vocabulary = Vocabulary(resource, "json-server", max_list_values=api.max_list_values)
    headers = {TOTAL_COUNT: {"description": "Rows matching the query (whatever the page)",
                             "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    return _dialect("json-server", resource, api, headers,
                    filters=JsFilterStep(vocabulary, max_list_values=api.max_list_values),
                    search=JsSearchStep(resource), sort=JsSortStep(resource, SortStep(resource)),
                    paging=JsPageStep(resource, max_offset=_max_offset(resource, api)))


def _dialect(name: str, resource: Resource, api: ApiSpec, headers: dict[str, Any], *,
             filters: Step[tuple[Filter, ...]], search: Step[str | None],
             sort: Step[tuple[OrderItem, ...]], paging: PagingStep[Any]) -> Profile:
    record = record_model(resource, item_model(resource))
    about = f"The {name} contract: a bare array of records, each with an `id`"
    return Profile(
        name=name, filters=filters, search=search, sort=sort, paging=paging,
        count=FixedCount(resource.spec.count or api.count),
        renderer=RecordRenderer(resource),
        list_route={"response_model": list[record],  # type: ignore[valid-type]
                    "responses": _responses(None, headers, description=about)},
        detail_route={"response_model": record, "responses": _responses(
            None, {}, description="The record, with its `id`")},
    )


def _max_offset(resource: Resource, api: ApiSpec) -> int | None:
    return _first_set(resource.spec.max_offset, api.max_offset)


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
        400: {"description": "Unknown or repeated parameter, query string too long, or a "
                             "boolean group that does not parse",
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
        codec = CursorCodec(b"checking names only", resource.sort_leaves)
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
