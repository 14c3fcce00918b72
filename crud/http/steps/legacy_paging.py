"""The legacy profile's paging: ``page`` and ``per_page``, answered 206 with the old range.

``Content-Range: <unit> <first+1>-<page*per_page>/*`` is computed from the request alone:
the old API never counted, so no count runs. ``size``, ``cursor`` and ``Range`` do not
exist here (a Range header is ignored, as the old API ignored it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi_pagination import Params
from pydantic import ValidationError

from crud.config.registry import LegacySpec
from crud.http.errors import BadRequest, ParameterError
from crud.http.legacy import legacy_params_model, legacy_range
from crud.http.listquery import Given, ListQuery, Parameter
from crud.http.schema import model_name
from crud.http.steps.filters import validation_entries
from crud.http.steps.paging import PageAsk, PagingStep, Window
from crud.model.resource import Resource
from crud.model.values import MAX_PAGE
from crud.sql.counting import Total
from crud.sql.pages import Page
from crud.sql.requests import OrderItem, Selection

__all__ = ["LegacyPageStep"]


class LegacyPageStep(PagingStep[PageAsk]):

    names: ClassVar[tuple[str, ...]] = ("page", "per_page")  # the query parameters it may read
    def __init__(self, resource: Resource, options: LegacySpec, *,
                 max_offset: int | None) -> None:
        self.unit = options.unit or resource.name
        self.max_offset = max_offset
        self.params_model: type[Params] = legacy_params_model(
            model_name(resource), options, resource.max_page_size)
        per_page: dict[str, Any] = {"type": "integer", "minimum": 1,
                                    "maximum": resource.max_page_size, "default": options.per_page}
        if options.per_page_values is not None:
            per_page["enum"] = list(options.per_page_values)
        self.parameters = (
            Parameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                               "default": 1}, "Page number, from 1"),
            Parameter("per_page", per_page, f"Rows per page, at most {resource.max_page_size}"),
        )

    def __repr__(self) -> str:
        return f"LegacyPageStep(unit={self.unit!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> PageAsk:
        sizes = {name: given.values[name] for name in ("page", "per_page") if name in given}
        try:
            params = self.params_model.model_validate(sizes)
        except ValidationError as error:
            errors.extend(validation_entries(error))
            params = self.params_model()
        return PageAsk(params.page, params.size)

    def window(self, ask: PageAsk, query: ListQuery, selection: Selection,
               order: Sequence[OrderItem]) -> Window:
        offset = (ask.page - 1) * ask.size
        if self.max_offset is not None and offset > self.max_offset:
            # The standard profile's max_offset; legacy clients have no cursor to go deeper.
            reason = (f"offset {offset} is beyond this list's max_offset {self.max_offset}; "
                      "narrow the list with filters")
            raise BadRequest(f"page: {reason}.", errors=[ParameterError("page", reason)])
        return Window(offset, ask.size, ask.size, offset=offset)

    def next_cursor(self, window: Window, order: Sequence[OrderItem], page: Page) -> str | None:
        return None

    def headers(self, window: Window, query: ListQuery, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        return 206, {"Content-Range": legacy_range(self.unit, window.page, window.size)}
