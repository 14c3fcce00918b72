"""A list request parsed once: the query string and headers read in one place, strictly.

Each step of a list (``crud.http.steps``) declares the parameters it reads and parses
them; ``QueryParser`` checks the whole query string first (length, unknown names, a scalar
given twice), hands each step its raw values and collects every step's errors into one
problem. The result, ``ListQuery``, carries what every step parsed plus the request's
address for links; nothing downstream reads the request again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request

from crud.http.errors import BadRequest, InvalidParameter, ParameterError
from crud.http.urls import route_path, url_base
from crud.model.binding import hint

__all__ = ["Given", "ListQuery", "Parameter", "QueryParser", "Step", "order_by_schema", "summary"]

P = TypeVar("P")


@dataclass(frozen=True)
class Parameter:
    """One query parameter (or header) a step reads, with its OpenAPI description."""

    name: str
    schema: dict[str, Any]
    description: str
    location: Literal["query", "header"] = "query"
    # May be repeated (``status__in=a&status__in=b``) or comma-separated: the values join.
    repeatable: bool = False
    explode: bool | None = None
    # False for what OpenAPI may not describe as a parameter (``Accept``): read, not listed.
    documented: bool = True

    def openapi(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "in": self.location, "required": False,
                                    "schema": self.schema, "description": self.description}
        if self.explode is not None:
            document["style"] = "form"
            document["explode"] = self.explode
        return document


def order_by_schema(names: Sequence[str], *, max_items: int | None = None,
                    nullable: Sequence[str] = ()) -> dict[str, Any]:
    """An ``order_by`` array: each of ``names`` as ``name`` or ``-name``, at most once;
    the ``nullable`` ones also with ``:nulls_first`` or ``:nulls_last``.

    ``uniqueItems`` alone would allow ``x,-x``, which the API refuses (one key, two
    directions); the ``not`` says so in the schema, not only in the description."""
    spellings = {name: [f"{sign}{name}{suffix}" for sign in ("", "-") for suffix in
                        ("", *((":nulls_first", ":nulls_last") if name in nullable else ()))]
                 for name in names}
    schema: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", "enum": [item for name in names for item in spellings[name]]},
        "minItems": 1, "uniqueItems": True,
        "not": {"anyOf": [{"allOf": [{"contains": {"const": one}}, {"contains": {"const": other}}]}
                          for name in names for index, one in enumerate(spellings[name])
                          for other in spellings[name][index + 1:]]},
    }
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


class Step(Generic[P]):
    """One part of a list request: the parameters it reads, and what it makes of them.

    ``parse`` turns the given values into the step's part of the query (appending to
    ``errors`` rather than raising, so one problem lists every bad parameter); what a step
    then does with its part is the profile's business (``crud.http.profiles``).
    """

    parameters: Sequence[Parameter] = ()

    def parse(self, given: Given, errors: list[ParameterError]) -> P:
        raise NotImplementedError


@dataclass(frozen=True)
class Given:
    """The request's parameters as the client sent them, checked for shape."""

    values: Mapping[str, str]  # one string per name; repeatable names joined with ','
    headers: Mapping[str, str]  # only the headers a step declared, by their declared name
    items: tuple[tuple[str, str], ...]  # every (name, value) pair, in the client's order

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.values


@dataclass(frozen=True)
class ListQuery:
    """Everything one list request asked for, each step's part under the step."""

    parts: Mapping[Step[Any], Any]
    given: Given
    url: str  # the request's path on the API's URL base (crud.http.urls), for links

    def part(self, step: Step[P]) -> P:
        value: P = self.parts[step]
        return value


@dataclass
class QueryParser:
    """Parses a list request for ``steps``; built once per route."""

    steps: Sequence[Step[Any]]
    max_query_length: int
    # Where clients reach the API (CRUD_PUBLIC_URL): links start with it; without it they
    # are root-relative. Never the request's Host header (crud.http.urls).
    public_url: str | None = None
    known: frozenset[str] = field(init=False)
    repeatable: frozenset[str] = field(init=False)
    header_names: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        parameters = [parameter for step in self.steps for parameter in step.parameters]
        query = [parameter for parameter in parameters if parameter.location == "query"]
        self.known = frozenset(parameter.name for parameter in query)
        self.repeatable = frozenset(parameter.name for parameter in query if parameter.repeatable)
        self.header_names = tuple((parameter.name.lower(), parameter.name)
                                  for parameter in parameters if parameter.location == "header")

    @property
    def parameters(self) -> list[Parameter]:
        return [parameter for step in self.steps for parameter in step.parameters]

    def parse(self, request: Request) -> ListQuery:
        given = self.given(request.scope["query_string"].decode("latin-1"), request)
        errors: list[ParameterError] = []
        parts = {step: step.parse(given, errors) for step in self.steps}
        if errors:
            raise InvalidParameter(summary(errors), errors=errors)
        scope = request.scope
        url = f"{url_base(scope, self.public_url)}{route_path(scope)}"
        return ListQuery(parts=parts, given=given, url=url)

    def given(self, raw: str, request: Request) -> Given:
        if len(raw) > self.max_query_length:
            raise BadRequest(f"The query string has {len(raw)} characters; "
                             f"the limit is {self.max_query_length}.")
        items = tuple(parse_qsl(raw, keep_blank_values=True))
        headers = {name: value for key, name in self.header_names
                   if (value := request.headers.get(key)) is not None}
        return Given(values=self._collapse(items), headers=headers, items=items)

    def _collapse(self, items: Iterable[tuple[str, str]]) -> dict[str, str]:
        values: dict[str, str] = {}
        unknown: list[str] = []
        repeated: list[str] = []
        for key, value in items:
            if key not in self.known:
                if key not in unknown:
                    unknown.append(key)
            elif key not in values:
                values[key] = value
            elif key in self.repeatable:
                values[key] = f"{values[key]},{value}"
            elif key not in repeated:
                repeated.append(key)
        if unknown:
            choices = sorted(self.known)
            raise BadRequest(
                f"Unknown query parameter {', '.join(repr(key) for key in unknown)}. "
                f"Valid parameters: {', '.join(choices)}.",
                errors=[ParameterError(key, f"unknown parameter{hint(key, choices)}")
                        for key in unknown])
        if repeated:
            raise BadRequest(
                f"Parameter {', '.join(repr(key) for key in repeated)} given more than once.",
                errors=[ParameterError(key, "given more than once") for key in repeated])
        return values


def summary(errors: Sequence[ParameterError]) -> str:
    return "; ".join(f"{entry['parameter']}: {entry['message']}" for entry in errors)
