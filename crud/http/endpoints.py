"""The list and detail handlers of one resource, read top to bottom.

A list: parse the query once (every step's parameters), place the page (the paging
step's window), read it (one statement with its total, plus one per to-many field),
shape the rows, let the paging step describe the page, let the renderer write the body.
Everything that does not depend on the request was prepared when the route was built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from crud.http.auth import Check
from crud.http.caching import CachePolicy, not_modified, validated_tag
from crud.http.errors import BadRequest, InvalidParameter, NotFound, ParameterError, ServiceUnavailable
from crud.http.exporting import Exporter
from crud.http.filtering import value_type
from crud.http.listquery import ListQuery, QueryParser
from crud.http.profiles import Profile
from crud.http.rollups import rollup_headers
from crud.http.rows import RowShaper
from crud.http.steps.export import Export
from crud.http.steps.facets import facets_body
from crud.http.steps.sort import SortStep
from crud.model.resource import Resource
from crud.model.shapes import SHAPE_CACHE_SIZE, Lru, Shape, Shapes
from crud.sql.facets import FacetCounts, Facets
from crud.sql.pages import Pages
from crud.sql.reader import DatabaseBusy, DatabaseUnavailable, StatementTimeout
from crud.sql.requests import Filter, OrderItem, PageRequest, Selection
from crud.sql.rollupkeeper import Kept, ResourceRollups
from crud.sql.validators import Validator

__all__ = ["Endpoints", "database_errors"]

# How long a client should wait before retrying when every connection was busy.
RETRY_AFTER_S = 1


class Endpoints:
    """``list_rows`` and ``get_row`` for one resource under one profile."""

    def __init__(self, resource: Resource, profile: Profile, pages: Pages, *,
                 cache: CachePolicy, max_query_length: int, check: Check | None = None,
                 public_url: str | None = None, validator: Validator | None = None,
                 facets: Facets | None = None) -> None:
        self.resource = resource
        self.facets = facets
        self.rollups: ResourceRollups | None = None  # facets a rollup covers come from it
        self.profile = profile
        self.pages = pages
        self.cache = cache
        self.validator = validator
        self.check = check
        self.parser = QueryParser(profile.steps, max_query_length, public_url)
        # A detail reads fields= and embed= only (where the profile has them).
        self.detail_parser = (QueryParser([profile.shape], max_query_length, public_url)
                              if profile.shape is not None else None)
        self.full = profile.shape.shapes.full if profile.shape else Shapes(resource).full
        self.shaper = RowShaper(self.full)
        self.shapers: Lru[Any, RowShaper] = Lru(SHAPE_CACHE_SIZE)
        self.pk_adapters = [TypeAdapter(value_type(leaf)) for leaf in resource.primary_key]
        self.noun = resource.singular.replace("_", " ")
        self.default_order = SortStep(resource).default
        self.exporter = Exporter(resource, pages, self.full) if profile.export is not None else None
        # What routes serve: the handlers answering problems in the profile's error body.
        self.list_read = profile.speaking(self.list_rows)
        self.detail_read = profile.speaking(self.get_row)

    def __repr__(self) -> str:
        return f"Endpoints({self.resource.name!r}, profile={self.profile.name!r})"

    async def list_rows(self, request: Request) -> Response:
        return await self.list_where(request, ())

    async def list_where(self, request: Request, bound: tuple[Filter, ...]) -> Response:
        """The list; ``bound``: the equality filters of a path route's parameters."""
        if self.check is not None:
            await self.check(request)
        profile = self.profile
        query = self.parser.parse(request)
        tag = await self.revalidate(lambda: (query.url, *sorted(query.given.items),
                                             *sorted(query.given.headers.items())))
        if tag is not None and self.cache.fresh(request, {"ETag": tag}):
            return not_modified(self.cache.headers(b"", tag))
        filters, search = (*bound, *query.part(profile.filters)), query.part(profile.search)
        groups = query.part(profile.groups) if profile.groups is not None else ()
        order = query.part(profile.sort)
        shape = query.part(profile.shape) if profile.shape is not None else self.full
        selection = Selection(filters, search, groups)
        export = query.part(profile.export) if profile.export is not None else None
        if export is not None:
            return await self.export(request, export, selection, order, shape)
        policy = query.part(profile.count) if profile.count is not None else None
        window = profile.paging.window(query.part(profile.paging), query, selection, order)
        wanted = PageRequest(selection, order, window.limit, window.offset, window.after,
                             shape=shape)
        with database_errors():
            scope = self.scope(request)
            page = await self.pages.read(wanted, policy, window.position, scope=scope)
            extra, kept = await self._facets(query, wanted.selection, scope)
        next_cursor = profile.paging.next_cursor(window, order, page)
        status, headers = profile.paging.headers(window, query, page.items, page.total,
                                                 next_cursor)
        if kept is not None:
            headers.update(rollup_headers(kept))
        body = profile.renderer.list_body(self.shaper_for(shape).items(page), page.total,
                                          window, next_cursor, extra)
        return self.respond(request, body, headers, status, tag, listed=True)

    async def revalidate(self, request_key: Callable[[], tuple[Any, ...]]) -> str | None:
        """The ETag from the resource's cheap validator (one statement); None without one.

        ``request_key`` is called only then: most resources have no validator, and their
        reads should not pay for building it."""
        if self.validator is None:
            return None
        with database_errors():
            value = await self.validator.read()
        return validated_tag(value, request_key()) if value is not None else None

    async def export(self, request: Request, export: Export, selection: Selection,
                     order: tuple[OrderItem, ...], shape: Shape) -> Response:
        """Every selected row in ``export``'s format, streamed (``crud.http.exporting``)."""
        assert self.exporter is not None
        export = self.exporter.reshaped(export, shape)
        headers = {**self.exporter.headers(export), "Cache-Control": self.cache.cache_control,
                   "Vary": self._vary()}
        if request.method == "HEAD":
            return self.exporter.response(request, None, export, headers)
        with database_errors():
            stream = await self.exporter.start(export, selection, order, shape)
        return self.exporter.response(request, stream, export, headers)

    def _vary(self) -> str:
        return ", ".join(name for name in ("Accept", self.cache.vary) if name)

    def scope(self, request: Request) -> str:
        """The caller's credentials as the result cache tells them apart ("" when public).

        Every accepted secret reads the same rows today; keeping answers per secret anyway
        means a future per-caller restriction cannot leak through a kept answer."""
        if self.cache.vary is None:
            return ""
        presented = request.headers.get(self.cache.vary, "").encode()
        return hashlib.sha256(presented).hexdigest()[:32]

    async def _facets(self, query: ListQuery, selection: Selection, scope: str = ""
                      ) -> tuple[dict[str, Any] | None, Kept | None]:
        if self.profile.facets is None or self.facets is None:
            return None, None
        ask = query.part(self.profile.facets)
        if not ask.leaves:
            return None, None
        found = (self.rollups.facets(selection, ask.leaves, ask.size)
                 if self.rollups is not None else None)
        if found is not None:
            values, kept = found
            counts = FacetCounts(
                {name: pairs[:ask.size] for name, pairs in values.items()},
                [name for name, pairs in values.items() if len(pairs) > ask.size])
            return facets_body(counts), kept
        counted = await self.facets.read(selection, ask.leaves, ask.size, scope=scope)
        return facets_body(counted), None

    async def get_row(self, request: Request) -> Response:
        if self.check is not None:
            await self.check(request)
        shape = self.full
        if request.scope["query_string"]:
            shape = self._detail_shape(request)
        # Read from the path, not the signature: the parameter is documented with the
        # primary key's own type by ``detail_parameters``, not as FastAPI's plain string.
        raw_id = request.path_params["id"]
        # The query (fields=, embed=) shapes the body: it is part of what the tag names.
        tag = await self.revalidate(lambda: (request.scope["path"], request.scope["query_string"]))
        if tag is not None and self.cache.fresh(request, {"ETag": tag}):
            return not_modified(self.cache.headers(b"", tag))
        with database_errors():
            page = await self.pages.one(self.parse_id(raw_id), shape)
        if page is None:
            raise NotFound(f"No {self.noun} with id {raw_id!r}.")
        body = self.profile.renderer.item_body(self.shaper_for(shape).items(page)[0])
        return self.respond(request, body, {}, tag=tag)

    async def first_row(self, request: Request, filters: tuple[Filter, ...],
                        described: str) -> Response:
        """A path route's detail: the first row ``filters`` select, in the default order."""
        if self.check is not None:
            await self.check(request)
        shape = self._detail_shape(request) if request.scope["query_string"] else self.full
        tag = await self.revalidate(lambda: (request.scope["path"], request.scope["query_string"]))
        if tag is not None and self.cache.fresh(request, {"ETag": tag}):
            return not_modified(self.cache.headers(b"", tag))
        wanted = PageRequest(Selection(filters), self.default_order, 1, shape=shape)
        with database_errors():
            page = await self.pages.read(wanted, None, 0)
        if not page.rows:
            raise NotFound(f"No {self.noun} with {described}." if described
                           else f"No {self.noun} at this path.")
        body = self.profile.renderer.item_body(self.shaper_for(shape).items(page)[0])
        return self.respond(request, body, {}, tag=tag)

    def shaper_for(self, shape: Shape) -> RowShaper:
        """The item builder of ``shape`` (one per shape, bounded as shapes are)."""
        if shape.key is None:
            return self.shaper
        return self.shapers.get(shape.key, lambda: RowShaper(shape))

    def _detail_shape(self, request: Request) -> Shape:
        if self.detail_parser is None or self.profile.shape is None:
            _refuse_query(request)
            return self.full
        return self.detail_parser.parse(request).part(self.profile.shape)

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
                status: int = 200, tag: str | None = None, *, listed: bool = False) -> Response:
        headers.update(self.cache.headers(body, tag))
        if listed and self.exporter is not None:  # the same URL may answer CSV by Accept
            headers["Vary"] = self._vary()
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
