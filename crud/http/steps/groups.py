"""Boolean groups: ``or=(...)`` and ``and=(...)`` over the resource's declared filters.

Each group is parsed (``crud.http.groups``), then every term is looked up among the
resource's filter parameters and its value validated by the filter step, exactly as the
plain ``field__op=value`` parameter would be. Several groups are ANDed with each other
and with the plain filters. A group that does not parse, names a filter the resource does
not declare, or goes over a cap is a 400; a bad value is a 422 naming the term. Both quote
the client's text and the 0-based position of the problem in it.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

from crud.http.errors import BadRequest, ParameterError
from crud.http.groups import (
    GROUP_KINDS,
    GroupKind,
    GroupSyntax,
    GroupSyntaxError,
    TermSyntax,
    group_pattern,
    parse_group,
)
from crud.http.listquery import Given, Parameter, Step
from crud.http.steps.filters import FilterStep, validation_entries
from crud.model.binding import hint
from crud.model.resource import Resource
from crud.sql.requests import Filter, Group

__all__ = ["GroupStep", "grammar"]


def grammar(max_depth: int, max_terms: int) -> str:
    """The grammar as the OpenAPI description and the README give it."""
    return (
        "A boolean group of filters: `(term,term,...)`, each term a filter written as its "
        "own parameter (`status=failure`, `chroot__like=rawhide`, `packit_id__in=\"1,2\"`) "
        "or a nested group (`and=(...)`, `or=(...)`). Values holding `,` `(` `)` or `\"` "
        "go in double quotes, with `\\\"` and `\\\\` escaped. Several groups are ANDed with "
        f"each other and the plain filters. At most {max_depth} levels deep and "
        f"{max_terms} terms per request. Example: `or=(status=failure,and=(scratch=true,"
        "chroot__like=rawhide))`."
    )


class GroupStep(Step[tuple[Group, ...]]):
    """``or`` and ``and``, each repeatable; none when the resource declares no filters."""

    names: ClassVar[tuple[str, ...]] = GROUP_KINDS  # the query parameters it may read

    def __init__(self, resource: Resource, filters: FilterStep, *, max_depth: int,
                 max_terms: int) -> None:
        self.resource = resource
        self.filters = filters
        self.max_depth = max_depth
        self.max_terms = max_terms
        joined = {"or": "any", "and": "all"}
        self.parameters = tuple(
            # The grammar itself: a value the document admits is one the parser takes.
            Parameter(kind, {"type": "array",
                             "items": {"type": "string", "pattern": group_pattern(max_depth)}},
                      f"Rows matching {joined[kind]} of the terms. "
                      f"{grammar(max_depth, max_terms)}", repeatable=True, explode=True)
            for kind in GROUP_KINDS) if resource.filters else ()

    def __repr__(self) -> str:
        return f"GroupStep({self.resource.name!r}, max_depth={self.max_depth}, " \
               f"max_terms={self.max_terms})"

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[Group, ...]:
        if not self.parameters:
            return ()
        groups: list[Group] = []
        used = 0
        for key, text in given.items:
            if key not in GROUP_KINDS:
                continue
            kind: GroupKind = "or" if key == "or" else "and"
            try:
                syntax, used = parse_group(kind, text, max_depth=self.max_depth,
                                           max_terms=self.max_terms, used=used)
            except GroupSyntaxError as error:
                raise _problem(key, text, error.message, error.position) from None
            groups.append(self._bind(key, text, syntax, errors))
        return tuple(groups)

    def _bind(self, key: str, text: str, syntax: GroupSyntax,
              errors: list[ParameterError]) -> Group:
        terms: list[Filter | Group] = []
        for term in syntax.terms:
            if isinstance(term, GroupSyntax):
                terms.append(self._bind(key, text, term, errors))
                continue
            found = self._filter(key, text, term, errors)
            if found is not None:
                terms.append(found)
        return Group(syntax.kind, tuple(terms))

    def _filter(self, key: str, text: str, term: TermSyntax,
                errors: list[ParameterError]) -> Filter | None:
        param = self.resource.filters.get(term.name)
        if param is None:
            raise _problem(key, text, self._unknown(term.name), term.position)
        try:
            return self.filters.validate(param, term.value)
        except ValidationError as error:
            errors.extend(ParameterError(key, f"at position {term.position}: term "
                                              f"{term.text!r}: {entry['message']}",
                                         value=text, position=term.position, term=term.text)
                          for entry in validation_entries(error))
            return None

    def _unknown(self, name: str) -> str:
        declared = list(self.resource.filters)
        field, _, operator = name.rpartition("__")
        same_field = [param for param in declared if param.partition("__")[0] == field]
        if field and same_field:
            return (f"{field!r} has no operator {operator!r} here "
                    f"(declared: {', '.join(same_field)})")
        return f"no filter {name!r}{hint(name, declared)}"


def _problem(key: str, text: str, message: str, position: int) -> BadRequest:
    return BadRequest(f"{key}: at position {position} of {text!r}: {message}.",
                      errors=[ParameterError(key, f"at position {position}: {message}",
                                             value=text, position=position)])
