"""Where a list page starts, and how the response describes it.

Three ways in, one window out: ``page``/``size`` (offset), ``cursor`` (keyset: a seek
replaces the offset, so any depth costs the same) and a ``Range`` header. The window says
what to read and, for the response, where it stands: Content-Range, the next cursor, the
206/416 decision, and the budget check (``max_offset``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode

from fastapi_pagination import Params
from pydantic import ValidationError

from crud.http.cursors import CursorCodec, fingerprint
from crud.http.errors import BadRequest, ParameterError
from crud.http.listquery import Given, ListQuery, Parameter, Step
from crud.http.pagination import content_range, page_params_model
from crud.http.ranges import RANGE_TRUNCATED, RowRange, not_satisfiable, parse_range
from crud.http.schema import model_name
from crud.http.steps.filters import validation_entries
from crud.model.resource import Resource
from crud.model.shapes import SHAPE_CACHE_SIZE, Lru
from crud.model.values import MAX_PAGE
from crud.sql.counting import TOTAL_KINDS, Total
from crud.sql.pages import Page
from crud.sql.requests import Filter, Group, OrderItem, Selection

__all__ = ["TOTAL_COUNT_KIND", "PageAsk", "PageStep", "PagingStep", "Window", "openapi_headers"]

TOTAL_COUNT_KIND = "Total-Count-Kind"
A = TypeVar("A")


@dataclass(frozen=True)
class PageAsk:
    """What the client asked for: a page of a size, a cursor, or a row range."""

    page: int
    size: int
    cursor: str | None = None
    row_range: RowRange | None = None


@dataclass(frozen=True)
class Window:
    """The rows one request reads and where the first of them stands in the whole list."""

    position: int
    size: int  # the page size the client sees (a Range's length, or ``size``)
    limit: int
    offset: int = 0
    after: tuple[Any, ...] | None = None  # the seek values of a cursor page
    bound_to: str = ""
    row_range: RowRange | None = None

    @property
    def page(self) -> int | None:
        """The page number at ``size``, or None when the rows start off that grid (a Range
        or a cursor at another size): no page number describes them."""
        whole, rest = divmod(self.position, self.size)
        return whole + 1 if rest == 0 else None


class PagingStep(Step[A]):
    """The step that places a page: what to read, then the response's status and headers.

    Every profile has one (``page``/``size`` here, the legacy and client dialects' own);
    the list handler calls ``window``, reads the rows, then ``next_cursor`` and ``headers``.
    """

    def window(self, ask: A, query: ListQuery, selection: Selection,
               order: Sequence[OrderItem]) -> Window:
        raise NotImplementedError

    def next_cursor(self, window: Window, order: Sequence[OrderItem], page: Page) -> str | None:
        return None

    def headers(self, window: Window, query: ListQuery, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        raise NotImplementedError


class PageStep(PagingStep[PageAsk]):
    """``page``, ``size``, ``cursor`` and the ``Range`` header of the standard profile."""

    names: ClassVar[tuple[str, ...]] = ("page", "size", "cursor")  # the query parameters it may read

    def __init__(self, resource: Resource, codec: CursorCodec, *,
                 max_offset: int | None) -> None:
        self.resource = resource
        self.codec = codec
        self.max_offset = max_offset
        self.units = (resource.name, "items")
        self.params_model: type[Params] = page_params_model(
            model_name(resource), resource.page_size, resource.max_page_size)
        self.defaults = self.params_model()  # most requests give neither page nor size
        # Equal queries give equal fingerprints: the digest is worked out once per query.
        self.fingerprints: Lru[Hashable, str] = Lru(SHAPE_CACHE_SIZE)
        self.parameters = _parameters(resource)

    def __repr__(self) -> str:
        return f"PageStep({self.resource.name!r}, max_offset={self.max_offset})"

    def parse(self, given: Given, errors: list[ParameterError]) -> PageAsk:
        sizes = {name: given.values[name] for name in ("page", "size") if name in given}
        try:
            params = self.params_model.model_validate(sizes) if sizes else self.defaults
        except ValidationError as error:
            errors.extend(validation_entries(error))
            params = self.defaults
        cursor = given.get("cursor") or None  # an empty cursor starts the walk
        row_range = parse_range(given.headers.get("Range"), self.units,
                                self.resource.max_page_size)
        self._refuse_mixing(given, params, cursor, row_range)
        return PageAsk(params.page, params.size, cursor, row_range)

    def _refuse_mixing(self, given: Given, params: Params, cursor: str | None,
                       row_range: RowRange | None) -> None:
        clashes = []
        if cursor is not None and "page" in given:
            clashes.append(ParameterError("page", "cannot be combined with 'cursor', which "
                                                  "already says where the page starts"))
        if row_range is not None and (cursor is not None
                                      or not self._agrees(given, params, row_range)):
            clashes.append(ParameterError("Range", "a Range header replaces page, size and "
                                                   "cursor; send one or the other"))
        if clashes:
            raise BadRequest("; ".join(f"{entry['parameter']}: {entry['message']}"
                                       for entry in clashes), errors=clashes)

    def _agrees(self, given: Given, params: Params, row_range: RowRange) -> bool:
        # A docs form sends its defaults (page=1, size=20) alongside a Range: harmless.
        # page/size describing the very rows of the Range are harmless too.
        if "page" not in given and "size" not in given:
            return True
        defaults = params.page == 1 and params.size == self.resource.page_size
        same = (params.page - 1) * params.size == row_range.start and \
            params.size == row_range.limit
        return defaults or same

    # -- the window --------------------------------------------------------------------------

    def window(self, ask: PageAsk, query: ListQuery, selection: Selection,
               order: Sequence[OrderItem]) -> Window:
        bound_to = self._fingerprint(order, selection)
        if ask.cursor is not None:
            cursor = self.codec.decode(ask.cursor, [key.leaf for key, _ in order], bound_to)
            return Window(cursor.position, ask.size, ask.size, after=cursor.values,
                          bound_to=bound_to)
        if ask.row_range is not None:
            start = ask.row_range.start
            self._check_offset(start, "Range", query)
            return Window(start, ask.row_range.limit, ask.row_range.limit, offset=start,
                          bound_to=bound_to, row_range=ask.row_range)
        offset = (ask.page - 1) * ask.size
        self._check_offset(offset, "page", query)
        return Window(offset, ask.size, ask.size, offset=offset, bound_to=bound_to)

    def _fingerprint(self, order: Sequence[OrderItem], selection: Selection) -> str:
        def digest() -> str:
            return fingerprint(self.resource.name,
                               [(key.name + key.placement, desc) for key, desc in order],
                               [(item.param.name, item.value) for item in selection.filters],
                               selection.search,
                               [_material(group) for group in selection.groups])

        query = (tuple((key.name + key.placement, desc) for key, desc in order),
                 tuple((item.param.name, item.value) for item in selection.filters),
                 selection.search, selection.groups)
        try:
            return self.fingerprints.get(query, digest)
        except TypeError:  # a value holding a list (an 'in' filter): not kept
            return digest()

    def _check_offset(self, offset: int, parameter: str, query: ListQuery) -> None:
        if self.max_offset is None or offset <= self.max_offset:
            return
        first = _url(query, without=("page", "cursor"))
        reason = (f"offset {offset} is beyond this list's max_offset {self.max_offset}; "
                  "go deeper with the cursor: request the first page and follow 'next'")
        raise BadRequest(f"{parameter}: {reason}.",
                         errors=[ParameterError(parameter, reason, first=first)],
                         headers={"Link": f'<{first}>; rel="first"'})

    # -- the response ------------------------------------------------------------------------

    def next_cursor(self, window: Window, order: Sequence[OrderItem], page: Page) -> str | None:
        """A cursor after the last row, unless this page is known to be the last one."""
        returned, total = page.items, page.total
        if not returned or returned < window.limit:
            return None
        end = window.position + returned
        if total.kind == "exact" and total.value is not None and end >= total.value:
            return None
        return self.codec.encode([key.leaf for key, _ in order], page.last, end, window.bound_to)

    def headers(self, window: Window, query: ListQuery, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        """Status and paging headers; a Range starting after the last row raises 416."""
        row_range = window.row_range
        if row_range is not None and returned == 0 and row_range.start > 0:
            raise not_satisfiable(row_range.unit, row_range.start, total.value)
        unit = row_range.unit if row_range is not None else self.resource.name
        headers = {"Content-Range": content_range(unit, window.position, returned, total.value),
                   TOTAL_COUNT_KIND: total.kind, "Accept-Ranges": ", ".join(self.units)}
        if next_cursor is not None:
            headers["Link"] = f'<{_next_url(query, window, next_cursor)}>; rel="next"'
        if row_range is None:
            return 200, headers
        if row_range.truncated(returned):
            headers[RANGE_TRUNCATED] = f"{row_range.unit}={row_range.asked}"
        return 206, headers


def _material(term: Filter | Group) -> list[Any]:
    """A group as nested lists for the cursor's fingerprint."""
    if isinstance(term, Group):
        return [term.kind, [_material(item) for item in term.terms]]
    return [term.param.name, term.value]


def _next_url(query: ListQuery, window: Window, cursor: str) -> str:
    if window.row_range is None:
        return _url(query, without=("page", "cursor"), cursor=cursor)
    # The Range's length, not the default size: its next page is the rows after it, as many.
    return _url(query, without=("page", "size", "cursor"), cursor=cursor, size=window.size)


def _url(query: ListQuery, *, without: tuple[str, ...], cursor: str | None = None,
         size: int | None = None) -> str:
    # By hand: Starlette's URL.include_query_params costs ~0.2 ms, a tenth of a small page.
    items = [(key, value) for key, value in query.given.items if key not in without]
    if size is not None:
        items.append(("size", str(size)))
    if cursor is not None:
        items.append(("cursor", cursor))
    return f"{query.url}?{urlencode(items)}" if items else query.url


def _parameters(resource: Resource) -> tuple[Parameter, ...]:
    size = resource.max_page_size
    return (
        Parameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                  "Page number, from 1"),
        Parameter("size", {"type": "integer", "minimum": 1, "maximum": size,
                           "default": resource.page_size}, f"Rows per page, 1 to {size}"),
        Parameter("cursor", {"type": "string"},
                  "Continue after the page that returned this cursor (its `next`). Keeps the "
                  "sort, filters and search it came from; not with `page`. Empty: the first "
                  "page."),
        Parameter("Range", {"type": "string"},
                  f"`{resource.name}=<first>-<last>` or `items=<first>-<last>` (0-based, "
                  "inclusive; `<first>-` for the rest): the same rows as page/size, answered "
                  "206. The body's `page` is null unless `<first>` is a multiple of the "
                  "range's length. Malformed ranges are ignored.", location="header"),
    )


def openapi_headers(resource: Resource) -> dict[str, Any]:
    """The paging headers of a list response, for the route's ``responses``."""
    string = {"type": "string"}
    return {
        "Content-Range": {
            "description": f"`{resource.name} <first>-<last>/<total>` (0-based, inclusive); "
                           f"`{resource.name} */<total>` for an empty page; total `*` when "
                           "not counted",
            "schema": {"type": "string",
                       # A Range in `items` is answered in `items`.
                       "pattern": f"^({resource.name}|items) ([0-9]+-[0-9]+|\\*)/([0-9]+|\\*)$"}},
        TOTAL_COUNT_KIND: {"schema": {"type": "string", "enum": list(TOTAL_KINDS)},
                           "description": "How exact `total` is: `exact`; `estimated` (the "
                                          "database's estimate); `lower-bound` (at least this "
                                          "many); `none` (not counted, null)"},
        "Link": {"schema": string, "description": "`<url>; rel=\"next\"`: the next page by "
                                                  "cursor (after a Range, as many rows as it "
                                                  "asked for); absent on the last page"},
        "Accept-Ranges": {"schema": string, "description": f"`{resource.name}, items`: the "
                                                           "units a Range header may use"},
        RANGE_TRUNCATED: {"schema": string, "description": "On 206 only: the requested range, "
                          f"when it asked for more than {resource.max_page_size} rows (the "
                          "cap) and Content-Range shows the part served"},
    }

