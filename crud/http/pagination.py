"""Pages: fastapi-pagination's ``Params``/``Page`` pair, sized per resource, plus Content-Range.

fastapi-pagination supplies the parameter model (``page``, ``size``, its limit/offset
arithmetic) and the typed page envelope for the docs. The envelope widens ``total`` and
``pages`` to allow null, for count policies that do not count, and ``page`` (with ``pages``)
for rows that start between two pages: a Range, or a cursor followed at another size.
"""

from __future__ import annotations

from math import ceil
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from fastapi_pagination import Page, Params
from pydantic import BaseModel, BeforeValidator, Field, create_model

from crud.model.values import MAX_PAGE, digits

__all__ = ["ListPage", "content_range", "envelope", "page_model", "page_params_model"]

T = TypeVar("T")


class ListPage(Page[T], Generic[T]):
    """The list envelope: ``items`` plus where this page stands in the whole list."""

    # Widened from fastapi-pagination's int: count policies may not count, and a Range (or
    # a cursor followed at another size) may start between two pages.
    total: int | None = Field(  # type: ignore[assignment]
        description="Rows matching the query; null when not counted")
    page: int | None = Field(  # type: ignore[assignment]
        description="Page number at this size, from 1; null when the rows do not start on a "
                    "page boundary at this size (a Range such as items=5-11)")
    pages: int | None = Field(  # type: ignore[assignment]
        description="Number of pages at this size; null when not counted or page is null")
    next: str | None = Field(None, description="Cursor of the next page (pass as ?cursor=); "
                                                "null on the last page")


def page_params_model(name: str, page_size: int, max_page_size: int) -> type[Params]:
    """fastapi-pagination ``Params`` with this resource's default and maximum page size."""
    model: type[Params] = create_model(
        f"{name}Params",
        __base__=Params,
        page=(Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(digits)],
              Query(1, description="Page number, from 1")),
        size=(Annotated[int, Field(ge=1, le=max_page_size), BeforeValidator(digits)],
              Query(page_size, description=f"Rows per page, 1 to {max_page_size}")),
    )
    return model


def envelope(items: list[Any], total: int | None, page: int | None, size: int,
             *, next_cursor: str | None = None) -> dict[str, Any]:
    # Without a page the count of pages has nothing to place it among.
    pages = ceil(total / size) if total is not None and page is not None else None
    return {"items": items, "total": total, "page": page, "size": size, "pages": pages,
            "next": next_cursor}


def content_range(unit: str, offset: int, count: int, total: int | None) -> str:
    """``<unit> <first>-<last>/<total>``, 0-based inclusive; ``<unit> */<total>`` when empty."""
    total_text = "*" if total is None else str(total)
    if count == 0:
        return f"{unit} */{total_text}"
    return f"{unit} {offset}-{offset + count - 1}/{total_text}"


def page_model(name: str, item: type[BaseModel]) -> type[BaseModel]:
    """``ListPage[item]`` under a stable schema name such as ``KojiBuildPage``."""
    model: type[BaseModel] = create_model(f"{name}Page", __base__=ListPage[item])  # type: ignore[valid-type]
    return model
