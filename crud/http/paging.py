"""Where a list page starts and how the response describes it.

Three ways in, one window out: ``page``/``size`` (offset), ``cursor`` (keyset: a seek
predicate replaces the offset, so any depth costs the same) and a ``Range`` header. The
window also carries what the response needs afterwards: the position for Content-Range,
the next cursor, the 206/416 decision and the budget checks (``max_offset``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, select, union_all
from starlette.requests import Request

from crud.http.cursors import CursorCodec, fingerprint, seek_key, seek_parts, seek_predicate
from crud.http.errors import BadRequest, ParameterError
from crud.http.pagination import content_range
from crud.http.params import ListRequest
from crud.http.ranges import RANGE_TRUNCATED, RowRange, not_satisfiable, parse_range
from crud.model.resource import Resource
from crud.sql.counting import TOTAL_KINDS, Total
from crud.sql.query import ListPlan, OrderItem, StatementBuilder, order_clauses

__all__ = [
    "CURSOR_PARAMETERS",
    "Pager",
    "Window",
    "openapi_headers",
    "openapi_parameters",
    "openapi_responses",
]

TOTAL_COUNT_KIND = "Total-Count-Kind"
# Query parameters that choose the page rather than the rows: a cursor is not bound to them.
CURSOR_PARAMETERS = ("cursor", "count")
_NOT_BINDING = frozenset({"page", "size", "cursor", "count", "order_by", "search"})


@dataclass(frozen=True)
class Window:
    """The page one request reads: the statement plan and where its first row stands."""

    plan: ListPlan
    position: int
    size: int
    bound_to: str
    row_range: RowRange | None = None
    # Plans read one after the other when one seek predicate cannot use an index range.
    parts: tuple[ListPlan, ...] = ()

    @property
    def page(self) -> int:
        return self.position // self.size + 1


class Pager:
    """Cuts and describes the pages of one resource's list."""

    def __init__(self, resource: Resource, builder: StatementBuilder, codec: CursorCodec,
                 *, max_offset: int | None) -> None:
        self.resource = resource
        self.builder = builder
        self.codec = codec
        self.max_offset = max_offset
        self.units = (resource.name, "items")

    def window(self, request: Request, query: ListRequest, plan: ListPlan) -> Window:
        given = request.query_params
        bound_to = self.bound_to(request, query, plan.order)
        size = query.params.size
        row_range = parse_range(request.headers.get("range"), self.units,
                                self.resource.max_page_size)
        token = given.get("cursor")
        _refuse_mixing(given, row_range, token)
        if token is not None:
            return self._after_cursor(token, plan, size, bound_to)
        if row_range is not None:
            self._check_offset(row_range.start, "Range", request)
            plan = replace(plan, offset=row_range.start, limit=row_range.limit)
            return Window(plan, row_range.start, row_range.limit, bound_to, row_range)
        self._check_offset(plan.offset, "page", request)
        return Window(plan, plan.offset, size, bound_to)

    def bound_to(self, request: Request, query: ListRequest, order: Sequence[OrderItem]) -> str:
        filters = [(key, value) for key, value in request.query_params.multi_items()
                   if key not in _NOT_BINDING]
        return fingerprint(self.resource.name, [(key.name, desc) for key, desc in order],
                           filters, query.search)

    def _after_cursor(self, token: str, plan: ListPlan, size: int, bound_to: str) -> Window:
        leaves = [key.leaf for key, _ in plan.order]
        cursor = self.codec.decode(token, leaves, bound_to)
        keys, values = [], []
        for (key, descending), value in zip(plan.order, cursor.values, strict=True):
            column, operand = seek_key(self.builder.filter_joins.column(key.leaf), key.leaf,
                                       self.builder.dialect)
            keys.append((column, descending, key.leaf.nullable))
            values.append(operand(value))
        # Only PostgreSQL's index order matches the NULL placement; elsewhere one predicate.
        seeks = (seek_parts(keys, values) if self.builder.dialect == "postgresql"
                 else [(seek_predicate(keys, values), False)])
        plans = tuple(replace(plan, criteria=[*plan.criteria, seek],
                              criteria_leaves=[*plan.criteria_leaves, *leaves], offset=0,
                              order=plan.order[1:] if first_is_null else plan.order)
                      for seek, first_is_null in seeks)
        whole = replace(plans[0], order=plan.order)
        return Window(whole, cursor.position, size, bound_to,
                      parts=plans if len(plans) > 1 else ())

    def statement(self, window: Window) -> tuple[Select[Any], dict[str, Any]]:
        """The page statement and its parameters; split seeks become a UNION ALL of two pages."""
        if not window.parts:
            return self.builder.page_with_params(window.plan)
        pages = [select(self.builder.page(plan).subquery()) for plan in window.parts]
        both = union_all(*pages).subquery("parts")
        terms: list[Any] = []
        for key, descending in window.plan.order:
            terms.extend(order_clauses(both.c[key.leaf.label], descending, key.leaf.nullable,
                                       self.builder.dialect))
        return select(*both.c).order_by(*terms).limit(window.plan.limit), {}

    def _check_offset(self, offset: int, parameter: str, request: Request) -> None:
        if self.max_offset is None or offset <= self.max_offset:
            return
        first = request.url.remove_query_params(["page", "cursor"])
        reason = (f"offset {offset} is beyond this list's max_offset {self.max_offset}; "
                  "go deeper with the cursor: request the first page and follow 'next'")
        raise BadRequest(f"{parameter}: {reason}.",
                         errors=[ParameterError(parameter, reason, first=str(first))],
                         headers={"Link": f'<{first}>; rel="first"'})

    # -- the response ------------------------------------------------------------------------

    def next_cursor(self, window: Window, rows: Sequence[Any], total: Total) -> str | None:
        """A cursor after the last row, unless this page is known to be the last one."""
        if not rows or len(rows) < window.plan.limit:
            return None
        end = window.position + len(rows)
        if total.kind == "exact" and total.value is not None and end >= total.value:
            return None
        last = rows[-1]
        leaves = [key.leaf for key, _ in window.plan.order]
        values = [getattr(last, leaf.label) for leaf in leaves]
        return self.codec.encode(leaves, values, end, window.bound_to)

    def headers(self, request: Request, window: Window, returned: int, total: Total,
                next_cursor: str | None) -> tuple[int, dict[str, str]]:
        """Status and paging headers; a Range starting after the last row raises 416."""
        row_range = window.row_range
        if row_range is not None and returned == 0 and row_range.start > 0:
            raise not_satisfiable(row_range.unit, row_range.start, total.value)
        unit = row_range.unit if row_range is not None else self.resource.name
        headers = {"Content-Range": content_range(unit, window.position, returned, total.value),
                   TOTAL_COUNT_KIND: total.kind, "Accept-Ranges": ", ".join(self.units)}
        if next_cursor is not None:
            headers["Link"] = f'<{_with_cursor(request, next_cursor)}>; rel="next"'
        if row_range is None:
            return 200, headers
        if row_range.truncated(returned):
            headers[RANGE_TRUNCATED] = f"{row_range.unit}={row_range.asked}"
        return 206, headers


def _with_cursor(request: Request, token: str) -> str:
    # By hand: Starlette's URL.include_query_params costs ~0.2 ms, a tenth of a small page.
    url = request.url
    query = [(key, value) for key, value in request.query_params.multi_items()
             if key not in {"page", "cursor"}]
    query.append(("cursor", token))
    return f"{url.scheme}://{url.netloc}{url.path}?{urlencode(query)}"


def _refuse_mixing(given: Any, row_range: RowRange | None, token: str | None) -> None:
    clashes = []
    if token is not None and "page" in given:
        clashes.append(ParameterError("page", "cannot be combined with 'cursor', which "
                                              "already says where the page starts"))
    if row_range is not None and ({"page", "size"} & set(given.keys()) or token is not None):
        clashes.append(ParameterError("Range", "a Range header replaces page, size and "
                                               "cursor; send one or the other"))
    if clashes:
        raise BadRequest("; ".join(f"{entry['parameter']}: {entry['message']}"
                                   for entry in clashes), errors=clashes)


# -- the OpenAPI description -----------------------------------------------------------------


def openapi_headers(resource: Resource) -> dict[str, Any]:
    """The paging headers of a list response, for the route's ``responses``."""
    string = {"type": "string"}
    return {
        TOTAL_COUNT_KIND: {"schema": {"type": "string", "enum": list(TOTAL_KINDS)},
                           "description": "How exact `total` is: `exact`; `estimated` (the "
                                          "database planner's estimate); `lower-bound` (at "
                                          "least this many); `none` (not counted, null)"},
        "Link": {"schema": string, "description": "`<url>; rel=\"next\"`: the next page by "
                                                  "cursor; absent on the last page"},
        "Accept-Ranges": {"schema": string, "description": f"`{resource.name}, items`: the "
                                                           "units a Range header may use"},
        RANGE_TRUNCATED: {"schema": string, "description": "On 206 only: the requested range, "
                          f"when it asked for more than {resource.max_page_size} rows (the "
                          "cap) and Content-Range shows the part served"},
    }


def openapi_parameters(resource: Resource, policy_kinds: Sequence[str]) -> list[dict[str, Any]]:
    """``cursor``, ``count`` and the ``Range`` header, as OpenAPI parameter objects."""
    return [
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Continue after the page that returned this cursor (its `next`). "
                        "Keeps the sort, filters and search it came from; not with `page`."},
        {"name": "count", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(policy_kinds)},
         "description": "Ask for a cheaper total than this list's count policy "
                        "(never a dearer one)."},
        {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
         "description": f"`{resource.name}=<first>-<last>` or `items=<first>-<last>` (0-based, "
                        "inclusive; `<first>-` for the rest): the same rows as page/size, "
                        "answered 206. Malformed ranges are ignored."},
    ]


def openapi_responses(page: Any, headers: dict[str, Any],
                      problem: dict[str, Any]) -> dict[int | str, Any]:
    return {
        206: {"model": page, "headers": headers, "description": "The rows a Range asked for"},
        416: {"description": "The Range starts after the last row; Content-Range "
                             "gives the total", **problem},
    }
