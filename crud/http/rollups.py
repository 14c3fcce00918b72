"""Rollups at the HTTP edge: which of a resource's requests they answer, and the headers
that say so (``Rollup: <name>``, ``Age: <seconds>``, ``Last-Modified``: when its data was read).
"""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import TYPE_CHECKING

from crud.sql.rollupkeeper import Kept, KeptRollup, ResourceRollups, store_key
from crud.sql.rollupreads import RollupReads

if TYPE_CHECKING:  # endpoints import the headers from here
    from crud.http.endpoints import Endpoints

__all__ = ["ROLLUP_HEADERS", "answering", "build_rollups", "rollup_headers"]

# How the OpenAPI document describes the headers of an answer from a rollup.
ROLLUP_HEADERS = {
    "Rollup": {"description": "Present when the answer came from this rollup (docs/rollups.md) "
                              "rather than a live statement", "schema": {"type": "string"}},
    "Age": {"description": "With Rollup: seconds since the rollup's data was read",
            "schema": {"type": "integer", "minimum": 0}},
    "Last-Modified": {"description": "With Rollup: when the rollup's data was read",
                      "schema": {"type": "string"}},
}


def build_rollups(endpoints: Endpoints) -> list[KeptRollup]:
    """One kept rollup per ``rollups:`` entry of the endpoints' resource."""
    resource, pages = endpoints.resource, endpoints.pages
    return [KeptRollup(resource.name, rollup,
                       RollupReads(rollup, pages.statements, pages.reader,
                                   budget_ms=pages.budget_ms),
                       store_key(resource, rollup))
            for rollup in resource.rollups]


def answering(kept: list[KeptRollup]) -> ResourceRollups | None:
    return ResourceRollups(kept) if kept else None


def rollup_headers(kept: Kept) -> dict[str, str]:
    return {"Rollup": kept.name, "Age": str(max(int(time.time() - kept.read_at), 0)),
            "Last-Modified": formatdate(kept.read_at, usegmt=True)}
