"""The list and detail handlers of one resource, read top to bottom.

A list: parse the query once (every step's parameters), place the page (the paging
step's window), read it (one statement with its total, plus one per to-many field),
shape the rows, let the paging step describe the page, let the renderer write the body.
Everything that does not depend on the request was prepared when the route was built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from crud.http.auth import Check
from crud.http.caching import CachePolicy, not_modified
from crud.http.errors import BadRequest, InvalidParameter, NotFound, ParameterError, ServiceUnavailable
from crud.http.filtering import value_type
from crud.http.listquery import ListQuery, QueryParser
from crud.http.profiles import Profile
from crud.http.rows import RowShaper
from crud.http.steps.facets import facets_body
from crud.model.resource import Resource
from crud.sql.facets import Facets
from crud.sql.pages import Pages
from crud.sql.reader import DatabaseBusy, DatabaseUnavailable, StatementTimeout
from crud.sql.statements import PageRequest, Selection

__all__ = ["Endpoints", "database_errors"]

# How long a client should wait before retrying when every connection was busy.
RETRY_AFTER_S = 1


class Endpoints:
    """``list_rows`` and ``get_row`` for one resource under one profile."""

    def __init__(self, resource: Resource, profile: Profile, pages: Pages, *,
                 cache: CachePolicy, max_query_length: int, check: Check | None = None,
                 public_url: str | None = None, facets: Facets | None = None) -> None:
        self.resource = resource
        self.facets = facets
        self.profile = profile
        self.pages = pages
        self.cache = cache
        self.check = check
        self.parser = QueryParser(profile.steps, max_query_length, public_url)
        self.shaper = RowShaper(resource)
        self.pk_adapters = [TypeAdapter(value_type(leaf)) for leaf in resource.primary_key]
        self.noun = resource.singular.replace("_", " ")

    def __repr__(self) -> str:
        return f"Endpoints({self.resource.name!r}, profile={self.profile.name!r})"

    async def list_rows(self, request: Request) -> Response:
        if self.check is not None:
            await self.check(request)
        profile = self.profile
        query = self.parser.parse(request)
        filters, search = query.part(profile.filters), query.part(profile.search)
        order = query.part(profile.sort)
        policy = query.part(profile.count) if profile.count is not None else None
        window = profile.paging.window(query.part(profile.paging), query, filters, search, order)
        wanted = PageRequest(Selection(filters, search), order, window.limit, window.offset,
                             window.after)
        with database_errors():
            page = await self.pages.read(wanted, policy, window.position)
            extra = await self._facets(query, wanted.selection)
        next_cursor = profile.paging.next_cursor(window, order, page)
        status, headers = profile.paging.headers(window, query, len(page.rows), page.total,
                                                 next_cursor)
        body = profile.renderer.list_body(self.shaper.items(page), page.total, window,
                                          next_cursor, extra)
        return self.respond(request, body, headers, status)

    async def _facets(self, query: ListQuery, selection: Selection) -> dict[str, Any] | None:
        if self.profile.facets is None or self.facets is None:
            return None
        ask = query.part(self.profile.facets)
        if not ask.leaves:
            return None
        return facets_body(await self.facets.read(selection, ask.leaves, ask.size))

    async def get_row(self, request: Request) -> Response:
        if self.check is not None:
            await self.check(request)
        if request.scope["query_string"]:
            _refuse_query(request)
        # Read from the path, not the signature: the parameter is documented with the
        # primary key's own type by ``detail_parameters``, not as FastAPI's plain string.
        raw_id = request.path_params["id"]
        with database_errors():
            page = await self.pages.one(self.parse_id(raw_id))
        if page is None:
            raise NotFound(f"No {self.noun} with id {raw_id!r}.")
        body = self.profile.renderer.item_body(self.shaper.items(page)[0])
        return self.respond(request, body, {})

    def parse_id(self, raw: str) -> list[Any]:
        parts = raw.split(",") if len(self.pk_adapters) > 1 else [raw]
        if len(parts) != len(self.pk_adapters):
            names = ",".join(leaf.name for leaf in self.resource.primary_key)
            raise InvalidParameter(f"id: expected {len(self.pk_adapters)} comma-separated "
                                   f"values ({names})", errors=[ParameterError("id", "wrong arity")])
        try:
            return [adapter.validate_python(part)
                    for adapter, part in zip(self.pk_adapters, parts, strict=True)]
        except ValidationError as error:
            message = error.errors(include_url=False)[0]["msg"]
            raise InvalidParameter(f"id: {message}",
                                   errors=[ParameterError("id", message)]) from None

    def respond(self, request: Request, body: bytes, headers: dict[str, str],
                status: int = 200) -> Response:
        headers.update(self.cache.headers(body))
        if self.cache.fresh(request, headers):
            return not_modified(headers)
        media_type = self.profile.renderer.media_type
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(b"", status, media_type=media_type, headers=headers)
        return Response(body, status, media_type=media_type, headers=headers)


@contextmanager
def database_errors() -> Iterator[None]:
    """The read path's database failures as 503 problems a client can act on."""
    try:
        yield
    except StatementTimeout as error:
        raise ServiceUnavailable("The query took longer than this API allows; narrow it "
                                 "with filters or a smaller page.") from error
    except DatabaseBusy as error:
        raise ServiceUnavailable("Every database connection is busy; try again shortly.",
                                 headers={"Retry-After": str(RETRY_AFTER_S)}) from error
    except DatabaseUnavailable as error:
        raise ServiceUnavailable("The database is unavailable; try again shortly.",
                                 headers={"Retry-After": str(RETRY_AFTER_S)}) from error


def _refuse_query(request: Request) -> None:
    # A detail takes no query parameters; a stray one (a filter meant for the list) is a
    # mistake the client should hear about, as on lists.
    names = list(dict.fromkeys(request.query_params.keys()))
    if names:
        raise BadRequest(
            f"Unknown query parameter {', '.join(repr(name) for name in names)}. "
            "A single row takes no query parameters.",
            errors=[ParameterError(name, "unknown parameter") for name in names])
