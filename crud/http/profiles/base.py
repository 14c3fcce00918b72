"""What every profile is: the steps of a list, a renderer, and the documented answers.

A profile is one module of this package (``standard``, ``legacy``, ``react_admin``,
``json_server``) that builds a ``Profile`` from the shared steps (``crud.http.steps``) and
its own; ``crud.http.profiles.profile_for`` picks the one a resource is served in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from crud.config.registry import ApiSpec, CountPolicy
from crud.http.caching import CACHE_HEADERS, NOT_MODIFIED
from crud.http.errorbodies import Endpoint, ErrorBody
from crud.http.errors import PROBLEM_JSON
from crud.http.listquery import Parameter, Step
from crud.http.openapi import PROBLEM_REF
from crud.http.renderers import Renderer
from crud.http.steps.export import ExportStep
from crud.http.steps.facets import FacetStep
from crud.http.steps.groups import GroupStep
from crud.http.steps.paging import PagingStep
from crud.http.steps.shape import ShapeStep
from crud.model.resource import Resource
from crud.sql.requests import Filter, OrderItem

__all__ = ["PROBLEM", "Profile", "max_offset", "responses"]

PROBLEM = {"content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


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
    error_body: ErrorBody | None = None  # an old API's error body in place of problem+json

    def speaking(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` answering problems in this profile's error body (problem+json
        unless the profile declares another)."""
        return endpoint if self.error_body is None else self.error_body.speaking(endpoint)

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


def max_offset(resource: Resource, api: ApiSpec) -> int | None:
    """The resource's ``max_offset``, else the API's."""
    own = resource.spec.max_offset
    return own if own is not None else api.max_offset


def responses(model: type[BaseModel] | None, headers: dict[str, Any], *, ok: int = 200,
              description: str | None = None) -> dict[int | str, Any]:
    """A route's documented answers: ``ok`` with ``headers``, then the problems."""
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
              **PROBLEM},
        404: {"description": "Not found", **PROBLEM},
        422: {"description": "A parameter value does not fit", **PROBLEM},
        500: {"description": "Unexpected server error (logged; never a stack trace)", **PROBLEM},
        503: {"description": "Database unavailable or query too slow", **PROBLEM},
    }
