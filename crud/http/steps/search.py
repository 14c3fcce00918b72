"""Search: ``search=text`` in the registry's ``search:`` fields (substring, full text, fuzzy)."""

from __future__ import annotations

from typing import ClassVar

from crud.http.errors import ParameterError
from crud.http.listquery import Given, Parameter, Step
from crud.model.resource import Resource
from crud.model.values import MAX_SEARCH_LENGTH, NO_NUL_SCHEMA

__all__ = ["SearchStep"]

_DESCRIPTIONS = {
    "substring": "Case-insensitive text match in any of: {fields}. % and _ match literally.",
    "full_text": "Full-text search in {fields}: words, ranked by relevance (the default "
                 "order, `order_by=-search_rank`). PostgreSQL reads web-search syntax "
                 "(\"a phrase\", or, -word); see the API's README for each database.",
    "fuzzy": "Similar text (trigram similarity, typos allowed) in {fields}, ranked by "
             "similarity (the default order, `order_by=-search_rank`).",
}


class SearchStep(Step[str | None]):

    names: ClassVar[tuple[str, ...]] = ("search",)  # the query parameters it may read
    def __init__(self, resource: Resource) -> None:
        fields = ", ".join(leaf.name for leaf in resource.search)
        self.parameters = (Parameter(
            "search", {**NO_NUL_SCHEMA, "maxLength": MAX_SEARCH_LENGTH},
            _DESCRIPTIONS[resource.search_mode].format(fields=fields)),
        ) if resource.search else ()

    def __repr__(self) -> str:
        return f"SearchStep(enabled={bool(self.parameters)})"

    def parse(self, given: Given, errors: list[ParameterError]) -> str | None:
        return self.text(given.get("search"), "search", errors)

    @staticmethod
    def text(text: str | None, parameter: str, errors: list[ParameterError]) -> str | None:
        """``text`` checked as a search; errors name ``parameter``. Empty: no search."""
        if not text:
            return None
        if len(text) > MAX_SEARCH_LENGTH:
            errors.append(ParameterError(parameter, f"at most {MAX_SEARCH_LENGTH} characters"))
        if "\x00" in text:
            errors.append(ParameterError(parameter, "NUL characters (\\x00) are not allowed"))
        return text
