"""The full-text scenario: a ranked search over the million Koji builds, with its index.

registry.yaml's full-text demo searches pull request titles (a few thousand rows); the
benchmark wants the big table. The generated server is therefore served registry.yaml
plus one resource, ``koji-build-search``: koji-builds' fields, searched by full text over
each build's commit, task id and target (``search=<commit sha>`` finds a commit's builds,
best match first). bench/baseline.py answers the same path by hand.

The GIN expression index the search needs is the one ``crud check --database-url`` advises
(``Backend.search_index_statement``); ``ensure_search_indexes`` creates it when missing:
``CREATE INDEX IF NOT EXISTS``, the only write the benchmark makes to a loaded database.
PostgreSQL gathers an expression index's statistics only when its table is analysed, and
without them it guesses 0.5% of the table matches any search: a parallel plan that costs
~40 ms instead of ~0.2 ms for a commit's few builds. So a table whose search index has no
statistics yet is analysed once (``ANALYZE``: statistics, no rows change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from crud.app import load
from crud.sql.backends import PostgreSQL, backend_for
from crud.sql.database import make_engine
from crud.sql.textsearch import text_search_of

__all__ = ["FULLTEXT_PATH", "ensure_search_indexes", "search_term", "write_registry"]

RESOURCE = "koji-build-search"
FULLTEXT_PATH = f"/api/v1/{RESOURCE}"
SEARCH = "{fields: [commit_sha, task_id, chroot], mode: full_text, config: simple}"


def write_registry(source: Path, target: Path) -> Path:
    """``source`` with the full-text resource appended, written to ``target``.

    By text, not through a YAML round trip: PyYAML reads a join's ``on:`` key as ``True``.
    """
    lines = source.read_text(encoding="utf-8").splitlines()
    start = lines.index("  koji-builds:")
    end = next(index for index in range(start + 1, len(lines))
               if lines[index].startswith("  ") and not lines[index].startswith("   "))
    block = [line for line in lines[start + 1:end] if line.strip()]
    searches = [index for index, line in enumerate(block) if line.startswith("    search:")]
    assert len(searches) == 1, "koji-builds has one search: line"
    block[searches[0]] = f"    search: {SEARCH}"
    described = "    description: Koji builds found by full text (commit, task id, target)"
    block = [described if line.startswith("    description:") else line for line in block]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join([*lines, "", f"  {RESOURCE}:", *block, ""]), encoding="utf-8")
    return target


async def ensure_search_indexes(url: str, registry: Path) -> str:
    """Create the index each ranked search of ``registry`` needs, where it is missing."""
    loaded = await load(registry, url)
    writer = make_engine(url, read_only=False)
    created = []
    try:
        backend = backend_for(writer.dialect)
        assert isinstance(backend, PostgreSQL), "the benchmark runs on PostgreSQL"
        async with writer.connect() as connection:
            for resource in loaded.resources:
                search = text_search_of(resource)
                if search is None:
                    continue
                advice = await connection.run_sync(backend.search_index, search)
                if advice is not None:
                    await connection.execute(text(advice))
                    await connection.commit()
                    created.append(search.table.name)
                if not await _has_statistics(connection, search.table.name):
                    await connection.execute(text(f'ANALYZE "{search.table.name}"'))
                    await connection.commit()
                    created.append(f"{search.table.name} analysed")
    finally:
        await writer.dispose()
    return (f"search indexes made: {', '.join(created)}" if created
            else "search indexes present")


async def _has_statistics(connection: Any, table: str) -> bool:
    # Statistics of index expressions are listed under the index's name.
    found = await connection.scalar(text(
        "SELECT count(*) FROM pg_stats s JOIN pg_index x ON x.indexrelid = "
        "to_regclass(quote_ident(s.schemaname) || '.' || quote_ident(s.tablename)) "
        "WHERE x.indrelid = to_regclass(:table) AND x.indexprs IS NOT NULL"),
        {"table": table})
    return bool(found)


async def search_term(url: str, scale: int) -> str:
    """The commit of the build halfway into the table: a word the search finds a few times."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT commit_sha FROM koji_build_targets WHERE commit_sha IS NOT NULL "
                     "AND id >= :middle ORDER BY id LIMIT 1"), {"middle": max(1, scale // 2)})
    finally:
        await engine.dispose()
    return str(found)
