"""Exports: ``format=csv|ndjson`` (or ``Accept``) streams every selected row, not a page.

The step picks the format: an explicit ``format=`` wins (``json`` is the ordinary page);
without one, the ``Accept`` header may ask for a format's media type with a higher
quality than ``application/json`` (equal qualities, wildcards and unknown types keep the
JSON page, as before). An export reads the filters, search and sort like a page does, but
has no place for ``page``, ``size``, ``cursor`` or ``Range``: those are a 400 offering the
query without them (never silently dropped: a client asking for rows 40-59 would get all),
except ``page=1`` and the default ``size``, which a docs form sends on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from crud.config.registry import ApiSpec, ExportSpec
from crud.http.errors import BadRequest, ParameterError
from crud.http.listquery import Given, Parameter, Step
from crud.http.renderers import StreamRenderer
from crud.model.resource import Resource

__all__ = ["DEFAULT_CHUNK_ROWS", "DEFAULT_MAX_ROWS", "EXPORT_MAX_ROWS", "Export", "ExportStep",
           "export_limits", "openapi_export"]

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_CHUNK_ROWS = 1000
JSON = "application/json"
EXPORT_MAX_ROWS = "Export-Max-Rows"
_PAGING = ("page", "size", "cursor")
_FACETS = ("facet", "facet_size")


@dataclass(frozen=True)
class Export:
    """What one export request asked for: its format and the resource's limits."""

    renderer: StreamRenderer
    max_rows: int
    chunk_rows: int


def export_limits(spec: ExportSpec | None, api: ApiSpec) -> tuple[int, int] | None:
    """(max_rows, chunk_rows) of a resource: the keys it sets, else the API's; None: off."""
    default = api.export
    given = spec.model_fields_set if spec is not None else set()

    def value(key: str) -> object:
        return getattr(spec if key in given else default, key)

    if not value("enabled"):
        return None
    max_rows, chunk_rows = value("max_rows"), value("chunk_rows")
    return (max_rows if isinstance(max_rows, int) else DEFAULT_MAX_ROWS,
            chunk_rows if isinstance(chunk_rows, int) else DEFAULT_CHUNK_ROWS)


class ExportStep(Step[Export | None]):
    """``format`` and ``Accept``: None for the JSON page, else the export asked for."""

    names: ClassVar[tuple[str, ...]] = ("format",)  # the query parameters it may read

    def __init__(self, resource: Resource, formats: Sequence[StreamRenderer], *,
                 max_rows: int, chunk_rows: int) -> None:
        self.formats = {renderer.name: renderer for renderer in formats}
        self.by_media_type = {renderer.media_type: renderer for renderer in formats}
        self.max_rows = max_rows
        self.chunk_rows = chunk_rows
        self.default_size = str(resource.page_size)
        choices = ["json", *self.formats]
        self.parameters = (
            Parameter("format", {"type": "string", "enum": choices, "default": "json"},
                      "`json`: this page. "
                      + ", ".join(f"`{name}`" for name in self.formats)
                      + ": every row the filters, search and sort select, streamed (no "
                        f"page, size, cursor or Range), at most {max_rows:,} (header "
                        "`Export-Max-Rows`; a longer list ends with a marker line). The "
                        "`Accept` header may ask for "
                      + ", ".join(f"`{renderer.media_type}`" for renderer in formats)
                      + " instead."),
            # OpenAPI forbids describing Accept as a parameter; the responses' media types say it.
            Parameter("Accept", {"type": "string"}, "", location="header", documented=False),
        )

    def __repr__(self) -> str:
        return (f"ExportStep({list(self.formats)}, max_rows={self.max_rows}, "
                f"chunk_rows={self.chunk_rows})")

    def parse(self, given: Given, errors: list[ParameterError]) -> Export | None:
        asked = given.get("format")
        if asked is None:
            renderer = self._negotiated(given.headers.get("Accept"))
        elif asked == "json":
            renderer = None
        else:
            renderer = self.formats.get(asked)
            if renderer is None:
                errors.append(ParameterError(
                    "format", f"expected one of json, {', '.join(self.formats)}, got {asked!r}"))
        if renderer is None:
            return None
        self._refuse_page_parameters(given, renderer.name)
        return Export(renderer, self.max_rows, self.chunk_rows)

    def _negotiated(self, accept: str | None) -> StreamRenderer | None:
        if not accept:
            return None
        ranges = _media_ranges(accept)
        best, quality = None, _quality(ranges, JSON)
        for media_type, renderer in self.by_media_type.items():
            found = _quality(ranges, media_type)
            if found > quality:
                best, quality = renderer, found
        return best

    def _refuse_page_parameters(self, given: Given, name: str) -> None:
        """What only a JSON page has is a 400 with an export, never silently dropped."""
        # page=1 and the default size are what a docs form fills in by itself: harmless.
        harmless = {"page": "1", "size": self.default_size}
        paging = [key for key in _PAGING if key in given and given.get(key) != harmless.get(key)]
        if "Range" in given.headers:
            paging.append("Range")
        facets = [key for key in _FACETS if key in given]
        refused = [(key, f"an export ({name}) streams every selected row; page, size, cursor "
                         "and Range do not apply (narrow it with filters)") for key in paging]
        refused += [(key, f"facets are counted beside a JSON page; an export ({name}) has no "
                          "place for them (ask for them without format)") for key in facets]
        if not refused:
            return
        reasons = dict.fromkeys(reason for _, reason in refused)  # each said once, in order
        detail = "; ".join(", ".join(key for key, said in refused if said == reason)
                           + f": {reason}" for reason in reasons)
        # A dashboard's list URL plus format=csv: the URL to ask instead, ready to follow.
        kept = urlencode([(key, value) for key, value in given.items
                          if key not in {key for key, _ in refused}])
        raise BadRequest(f"{detail}. The export without them: ?{kept}",
                         errors=[ParameterError(key, reason) for key, reason in refused])


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """``Accept``'s media ranges with their quality (malformed qualities count as 0)."""
    ranges = []
    for part in accept.split(","):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        if media_type:
            ranges.append((media_type.lower(), quality))
    return ranges


def _quality(ranges: Sequence[tuple[str, float]], media_type: str) -> float:
    """The quality of ``media_type`` under the most specific range that matches it."""
    kind = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for candidate, quality in ranges:
        specificity = (2 if candidate == media_type else 1 if candidate == f"{kind}/*"
                       else 0 if candidate == "*/*" else -1)
        if specificity > best[0]:
            best = (specificity, quality)
    return best[1]


def openapi_export(step: ExportStep) -> tuple[dict[str, Any], dict[str, Any]]:
    """The list's 200 response for exports: a media type per format, and their headers."""
    string = {"type": "string"}
    return (
        {renderer.media_type: renderer.openapi for renderer in step.formats.values()},
        {
            "Content-Disposition": {"schema": string, "description": "Exports only: "
                                    '`attachment; filename="<resource>.<format>"`'},
            EXPORT_MAX_ROWS: {"schema": {"type": "integer"}, "description": "Exports only: "
                              "the most rows sent; a longer list ends with a marker line"},
        },
    )
