"""The benchmark's scenarios: one URL each, the same for the generated API and the baseline."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["LIST_PATH", "PAGE_SIZE", "Scenario", "scenarios"]

LIST_PATH = "/api/v1/koji-builds"
FULLTEXT_PATH = "/api/v1/koji-build-search"  # bench/fulltext.py
PAGE_SIZE = 50
# A term that commit SHAs contain often enough to fill a page at every scale.
SEARCH_TERM = "abc"
# A boolean group over two indexed columns: failed builds, or any build for rawhide.
OR_GROUP = "(status=failure,chroot__like=rawhide)"
# generated/baseline req/s the uncounted, narrow, cursor, detail and default lists must reach.
TARGET = 0.8


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    # "list", "detail", "deep", "search", "facets", "aggregate"; "cursor" is resolved at
    # run time.
    kind: str
    path: str
    # The least generated/baseline req/s ratio this scenario must reach, if it has one.
    target: float | None = None
    # Whole-table scans (search) take seconds per request: fewer connections and a longer
    # run still collect enough requests for a median.
    connections: int | None = None
    duration_factor: float = 1
    # Statements per request by design (the report's round-trip check): a facet is one more.
    statements: int = 1


def scenarios(scale: int, words: str = "0" * 40) -> list[Scenario]:
    """Scenarios sized for ``scale`` koji builds: deep means half the table in.

    ``words`` are what the full-text scenario searches for (``bench.fulltext.search_term``:
    a commit of the loaded data).
    """
    deep_page = (scale // 2) // PAGE_SIZE + 1
    size = f"size={PAGE_SIZE}"
    return [
        # What a dashboard asks first: no parameters (default size, sort and count policy).
        Scenario("default", "default list (no parameters)", "list", LIST_PATH, target=TARGET),
        Scenario("list", "list page 1, derived fields", "list", f"{LIST_PATH}?{size}"),
        # Like page 1 but uncounted: what a cursor page at depth is measured against.
        Scenario("list-nocount", "list page 1, count=none", "list",
                 f"{LIST_PATH}?{size}&count=none", target=TARGET),
        Scenario("list-narrow", "list page 1, narrow filter (cheap count)", "list",
                 f"{LIST_PATH}?packit_id__gt={max(0, scale - 1000)}&{size}", target=TARGET),
        # More than 1,000 rows of a big table match: the page counts 1,001 of them, then the
        # planner's estimate is a statement of its own (docs/bigtables.md, count policies).
        Scenario("filtered", "list filtered (status=success)", "list",
                 f"{LIST_PATH}?status=success&{size}", statements=2),
        Scenario("or-filter", f"OR filter page (or={OR_GROUP})", "list",
                 f"{LIST_PATH}?or={quote(OR_GROUP, safe='')}&{size}", statements=2),
        Scenario("sorted", "list sorted by non-key field", "list",
                 f"{LIST_PATH}?order_by=-build_submitted_time&{size}"),
        Scenario("deep-offset", f"deep page by offset (page {deep_page})", "deep",
                 f"{LIST_PATH}?page={deep_page}&{size}"),
        Scenario("deep-cursor", f"deep page by cursor, count=none (≥ {scale // 2} rows in)",
                 "cursor", f"{LIST_PATH}?{size}&count=none", target=TARGET),
        Scenario("detail", "detail by id", "detail", f"{LIST_PATH}/{max(1, scale // 2)}",
                 target=TARGET),
        Scenario("search", f"search ({SEARCH_TERM!r})", "search",
                 f"{LIST_PATH}?search={SEARCH_TERM}&{size}", connections=2, duration_factor=3),
        # Ranked by relevance over the GIN expression index: a commit's builds, best first.
        Scenario("fulltext", "full-text search (a commit's builds, ranked)", "search",
                 f"{FULLTEXT_PATH}?search={words}&{size}"),
        # Dashboards (docs/analytics.md): the list plus the counts beside it, and a chart's
        # worth of grouped numbers. Both read every selected row: whole-table statements.
        Scenario("facets", "list page 1 with two facets (status, chroot)", "facets",
                 f"{LIST_PATH}?{size}&facet=status&facet=chroot", connections=2,
                 duration_factor=3, statements=3),
        Scenario("aggregate-week", "aggregate by week (count, avg duration), whole table",
                 "aggregate", f"{LIST_PATH}/aggregate?group_by=build_submitted_time:week"
                              "&metrics=count,avg:duration&size=100",
                 connections=2, duration_factor=3),
    ]
