"""Routes by path: a resource's list or detail at a template whose parameters bind to fields.

``routes:`` (``crud.config.routes``) places a resource's list and detail anywhere under the
API prefix: ``/testing-farm/results`` (a list beside ``/testing-farm/{id}``),
``/projects/{forge}/{namespace:path}/{repo}`` (a detail found by fields), ``.../{repo}/prs``
(a sub-resource list filtered by its parent's key through to-one fields). A path
parameter is one more equality filter on its field, validated as that field's values
are: a path list runs exactly the statements of the same list filtered in the query, and
the query language applies on top. A path detail is the first row, in the resource's
default order, of the rows its parameters select (as the old APIs' ``.first()``): a
template over a unique key finds at most one.

Templates are matched by precedence: more literal segments first, then fewer ``:path``
parameters, then more segments (``/testing-farm/results`` before ``/testing-farm/{id}``;
``.../{repo}/prs`` before ``.../{namespace:path}/{repo}``). Two templates of the same shape
(``/projects/{forge}`` and a resource ``projects``' own ``/projects/{id}``) would be a
guess: ``route_issues`` refuses them at startup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from crud.config.registry import ApiSpec, RegistryIssue
from crud.config.routes import RouteSpec, Segment, parse_template
from crud.config.yamlfile import LocatedData
from crud.http.endpoints import Endpoints
from crud.http.errors import InvalidParameter, ParameterError
from crud.http.filtering import value_type
from crud.http.schema import json_schema
from crud.model.fields import Leaf
from crud.model.operators import OPERATORS
from crud.model.resource import FilterParam, Resource
from crud.sql.requests import Filter

__all__ = ["Binding", "PathEndpoint", "PathRoute", "Template", "resource_routes", "route_issues"]


@dataclass(frozen=True)
class Template:
    """A compiled path template: its pattern, its shape (for conflicts), its precedence."""

    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        return cls(text, parse_template(text))

    @property
    def head(self) -> str:
        first = self.segments[0].literal
        assert first is not None  # parse_template requires it
        return first

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = [re.escape(segment.literal) if segment.literal is not None
                 else f"(?P<{segment.parameter}>{'.+' if segment.greedy else '[^/]+'})"
                 for segment in self.segments]
        return re.compile("/" + "/".join(parts))

    @property
    def shape(self) -> tuple[str, ...]:
        """The template without its parameter names: equal shapes match the same paths."""
        return tuple(segment.literal if segment.literal is not None
                     else ("{:path}" if segment.greedy else "{}") for segment in self.segments)

    @property
    def rank(self) -> tuple[int, int, int]:
        """Sorts the most specific first (see the module docstring)."""
        literals = sum(segment.literal is not None for segment in self.segments)
        greedy = sum(segment.greedy for segment in self.segments)
        return (-literals, greedy, -len(self.segments))


@dataclass(frozen=True)
class Binding:
    """One path parameter: the field it filters by equality, and its value's validator."""

    parameter: str
    leaf: Leaf
    adapter: TypeAdapter[Any]
    param: FilterParam

    def openapi(self) -> dict[str, Any]:
        about = f"{self.leaf.description}. " if self.leaf.description else ""
        return {"name": self.parameter, "in": "path", "required": True,
                "schema": json_schema(value_type(self.leaf)),
                "description": f"{about}Selects rows whose {self.leaf.name} equals it."}


@dataclass(frozen=True)
class PathRoute:
    """One route of a resource: ``default`` ones are ``/<name>`` and ``/<name>/{id}``."""

    resource: str
    template: Template
    kind: str  # list, detail or aggregate
    bindings: tuple[Binding, ...] = ()
    default: bool = False
    index: int | None = None  # its place in the resource's routes: list
    fixed: tuple[Filter, ...] = ()  # its where: filters, whatever the path

    def filters(self, values: Mapping[str, str]) -> tuple[Filter, ...]:
        """The equality filters of the matched path (after ``where:``'s); 422 naming the
        parameter when a value does not fit its field."""
        filters = list(self.fixed)
        for binding in self.bindings:
            try:
                value = binding.adapter.validate_python(values[binding.parameter])
            except ValidationError as error:
                message = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
                raise InvalidParameter(f"{binding.parameter}: {message}",
                                       errors=[ParameterError(binding.parameter, message)]
                                       ) from None
            filters.append(Filter(binding.param, value))
        return tuple(filters)

    def described(self, values: Mapping[str, str]) -> str:
        return ", ".join(f"{binding.parameter} {values[binding.parameter]!r}"
                         for binding in self.bindings)


def resource_routes(resource: Resource) -> tuple[list[PathRoute], list[tuple[int, str]]]:
    """The routes ``resource`` is served at, and the problems of its ``routes:`` entries."""
    name, spec = resource.name, resource.spec
    routes = []
    if resource.aggregate is not None:
        routes.append(PathRoute(name, Template.parse(f"/{name}/aggregate"), "aggregate",
                                default=True))
    if spec.routes is None:
        routes.append(PathRoute(name, Template.parse(f"/{name}"), "list", default=True))
        if spec.detail:
            routes.append(PathRoute(name, Template.parse(f"/{name}/{{id}}"), "detail",
                                    default=True))
        return routes, []
    problems: list[tuple[int, str]] = []
    for index, route in enumerate(spec.routes):
        template = Template.parse(route.path)
        if _is_default(name, route):
            routes.append(PathRoute(name, template, route.kind, default=True, index=index))
            continue
        bindings = []
        for segment in template.segments:
            if segment.parameter is None:
                continue
            binding = _bind(resource, route, segment)
            if isinstance(binding, str):
                problems.append((index, binding))
            else:
                bindings.append(binding)
        fixed = []
        for field, value in route.where.items():
            constant = _constant(resource, field, value)
            if isinstance(constant, str):
                problems.append((index, constant))
            else:
                fixed.append(constant)
        routes.append(PathRoute(name, template, route.kind, tuple(bindings), index=index,
                                fixed=tuple(fixed)))
    return routes, problems


def _is_default(name: str, route: RouteSpec) -> bool:
    return not route.bind and not route.where and (route.path, route.kind) in {(f"/{name}", "list"),
                                                           (f"/{name}/{{id}}", "detail")}


def _bind(resource: Resource, route: RouteSpec, segment: Segment) -> Binding | str:
    assert segment.parameter is not None
    field = route.field_of(segment.parameter)
    leaf = resource.leaves.get(field)
    if leaf is None:
        known = ", ".join(sorted(name for name, leaf in resource.leaves.items()
                                 if not leaf.to_many))
        return (f"path parameter {{{segment.parameter}}} binds to {field!r}, which is not a "
                f"field of {resource.name}; bind it to one of: {known} "
                f"(bind: {{{segment.parameter}: <field>}})")
    if leaf.to_many:
        return (f"path parameter {{{segment.parameter}}}: {field!r} is a to-many list; a "
                "path selects by a single value")
    if segment.greedy and leaf.info.kind != "string":
        return (f"path parameter {{{segment.parameter}:path}}: {field!r} is not text; only "
                "a text field takes several segments")
    param = FilterParam(name=f"@{leaf.name}", leaf=leaf, operator=OPERATORS["eq"],
                        internal=f"path_{segment.parameter}")
    return Binding(segment.parameter, leaf, TypeAdapter(value_type(leaf)), param)


def _constant(resource: Resource, field: str, value: Any) -> Filter | str:
    leaf = resource.leaves.get(field)
    if leaf is None or leaf.to_many:
        known = ", ".join(sorted(name for name, leaf in resource.leaves.items()
                                 if not leaf.to_many))
        return f"where: {field!r} is not a single-valued field of {resource.name}; one of: {known}"
    try:
        checked = TypeAdapter(value_type(leaf)).validate_python(value)
    except ValidationError as error:
        message = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        return f"where: {field}: {value!r}: {message}"
    param = FilterParam(name=f"@{leaf.name}", leaf=leaf, operator=OPERATORS["eq"],
                        internal=f"where_{leaf.name}")
    return Filter(param, checked)


def route_issues(resources: Sequence[Resource], api: ApiSpec, *, path: str,
                 located: LocatedData | None) -> list[RegistryIssue]:
    """Routes that bind to no field, and templates two routes share (a request could mean
    either), each located at the later route's entry."""
    issues = []

    def add(resource: str, index: int | None, message: str) -> None:
        where: tuple[str | int, ...] = ("resources", resource, "routes")
        if index is not None:
            where = (*where, index, "path")
        issues.append(RegistryIssue(
            path=path, line=located.line_of(where) if located is not None else None,
            key=".".join(str(part) for part in where), message=message))

    seen: dict[tuple[str, ...], PathRoute] = {}
    for resource in resources:
        if resource.spec.routes is not None and not resource.spec.detail:
            add(resource.name, None, "detail: false with routes: list the routes to serve "
                                     "in routes: and drop detail:")
        routes, problems = resource_routes(resource)
        for index, message in problems:
            add(resource.name, index, message)
        for route in routes:
            other = seen.setdefault(route.template.shape, route)
            if other is not route:
                add(resource.name, route.index,
                    f"{route.template.text!r} ({_what(route)}) has the shape of "
                    f"{other.template.text!r} ({_what(other)}{_line(other, located)}): a "
                    "request could mean either; give one a literal segment "
                    f"(e.g. /{route.template.head}/by-<field>/...) or drop one")
    return issues


def _what(route: PathRoute) -> str:
    return f"the {route.kind} of {route.resource}"


def _line(route: PathRoute, located: LocatedData | None) -> str:
    if located is None or route.index is None:
        return ""
    line = located.line_of(("resources", route.resource, "routes", route.index, "path"))
    return f", line {line}" if line else ""


class PathEndpoint:
    """The handler of one declared route: the resource's list or detail, filtered by the
    path's parameters."""

    def __init__(self, endpoints: Endpoints, route: PathRoute) -> None:
        self.endpoints = endpoints
        self.route = route
        self.__name__ = f"{route.kind}_at_path"

    def __repr__(self) -> str:
        return f"PathEndpoint({self.route.resource!r}, {self.route.template.text!r})"

    async def __call__(self, request: Request) -> Response:
        values = request.path_params
        filters = self.route.filters(values)
        if self.route.kind == "list":
            return await self.endpoints.list_where(request, filters)
        return await self.endpoints.first_row(request, filters, self.route.described(values))
