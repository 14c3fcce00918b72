"""``Range: <unit>=<first>-<last>`` on lists: the same rows as offset/limit, answered with 206.

Units are the resource's name (``koji-builds=0-49``, matching its ``Content-Range``) and
the generic ``items``. A range longer than the page-size cap is served up to the cap and
says so in ``Range-Truncated``. Malformed ranges, other units and multiple ranges are
ignored as RFC 9110 (section 14.2) allows: the list is answered as if no Range was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crud.http.errors import RangeNotSatisfiable

__all__ = ["RANGE_TRUNCATED", "RowRange", "not_satisfiable", "parse_range"]

RANGE_TRUNCATED = "Range-Truncated"
_RANGE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(\d{1,18})\s*-\s*(\d{0,18})\s*$", re.ASCII)


@dataclass(frozen=True)
class RowRange:
    """A satisfiable-looking row range, already cut to the page-size cap."""

    unit: str
    start: int
    limit: int
    asked: str  # the range as requested, for the truncation signal
    cut: bool  # the client asked for more rows than the cap

    def truncated(self, returned: int) -> bool:
        # An open range ("50-") asks for everything after its start.
        open_ended = self.asked.endswith("-")
        return self.cut or (open_ended and returned == self.limit)


def parse_range(header: str | None, units: tuple[str, ...], max_rows: int) -> RowRange | None:
    """The range in ``header`` when it is one well-formed range in one of ``units``."""
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None or match.group(1) not in units:
        return None
    unit, first, last = match.group(1), int(match.group(2)), match.group(3)
    if last and int(last) < first:
        return None
    wanted = int(last) - first + 1 if last else None
    limit = min(wanted or max_rows, max_rows)
    return RowRange(unit=unit, start=first, limit=limit, asked=f"{first}-{last}",
                    cut=wanted is not None and wanted > max_rows)


def not_satisfiable(unit: str, start: int, total: int | None) -> RangeNotSatisfiable:
    total_text = "*" if total is None else str(total)
    return RangeNotSatisfiable(
        f"The range starts at row {start}, after the last row of this list "
        f"({total_text} rows); ask for a range that starts before the end.",
        headers={"Content-Range": f"{unit} */{total_text}"},
    )
