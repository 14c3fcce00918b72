"""The ``standard`` profile: this API's own contract.

page/size/cursor/Range, counts, ``or=``/``and=`` groups, facets, ``fields=``/``embed=``,
exports and the JSON envelope; ``/aggregate`` answers in this profile only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from crud.config.registry import ApiSpec, CountPolicy
from crud.http.cursors import CursorCodec
from crud.http.formats.csvrows import CsvRenderer
from crud.http.formats.ndjson import NdjsonRenderer
from crud.http.pagination import page_model
from crud.http.profiles.base import PROBLEM, Profile, max_offset, responses
from crud.http.renderers import EnvelopeRenderer
from crud.http.rows import encoder
from crud.http.schema import item_model, model_name
from crud.http.steps.count import CountStep
from crud.http.steps.export import ExportStep, export_limits, openapi_export
from crud.http.steps.facets import FacetStep, faceted_page_model
from crud.http.steps.filters import FilterStep
from crud.http.steps.groups import GroupStep
from crud.http.steps.paging import PageStep, openapi_headers
from crud.http.steps.search import SearchStep
from crud.http.steps.shape import ShapeStep
from crud.http.steps.sort import SortStep
from crud.model.resource import Resource

__all__ = ["RESERVED_NAMES", "aggregate_responses", "standard_profile"]

# Query parameters of the standard profile that are not filters: a filter may not take one.
RESERVED_NAMES = frozenset(name for step in (PageStep, SortStep, SearchStep, CountStep,
                                            ShapeStep, ExportStep, GroupStep,
                                            FacetStep)
                           for name in step.names)


def standard_profile(resource: Resource, api: ApiSpec, codec: CursorCodec) -> Profile:
    offset_budget = max_offset(resource, api)
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
    listed = responses(page, headers)
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
        paging=PageStep(resource, codec, max_offset=offset_budget), shape=shape, export=export,
        renderer=EnvelopeRenderer(encode),
        list_route={"response_model": page, "responses": {
            **listed,
            206: {"model": page, "headers": headers, "description": "The rows a Range asked for"},
            416: {"description": "The Range starts after the last row; Content-Range gives "
                                 "the total", **PROBLEM}}},
        detail_route={"response_model": item, "responses": responses(item, {})},
    )


def aggregate_responses(model: type[BaseModel]) -> dict[int | str, Any]:
    """The documented answers of ``/aggregate`` (a page of groups)."""
    headers = {"Content-Range": {
        "description": "`groups <first>-<last>/<total_groups>`, 0-based inclusive "
                       "(`groups */<total>` when the page is empty)",
        "schema": {"type": "string"}}}
    answers = responses(model, headers)
    del answers[404]
    return answers
