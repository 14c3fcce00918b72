"""Reflection mode (``table:``) over a schema nobody designed for this API.

The schema has what real databases have: PascalCase names that need quoting, reserved
words as names, nullable and self-referencing foreign keys, two foreign keys to one table,
overlapping composite foreign keys (multi-tenant), composite keys, a pure association
table, a view, a key-less table, columns named like Python attributes, a binary column and
types SQLAlchemy does not know. It is created with raw DDL on each backend, then served from
registries that only say ``table:`` and use automap's relationship names in dotted paths.
PostgreSQL schemas and MariaDB databases other than the default have their own tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from conftest import (
    BACKENDS,
    ROOT,
    Api,
    Database,
    count_statements,
    create_database,
    drop_database,
)
from sqlalchemy import create_engine, inspect, text

from crud.app import create_app, load
from crud.config.registry import RegistryError
from crud.model.sources import ReflectedDatabase
from crud.sql.database import make_engine

BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA", "mariadb": "LONGBLOB"}
# A literal, because aiomysql cannot escape bytes parameters with current PyMySQL.
BLOB_VALUE = {"sqlite": "X'89504E4700FF'", "postgresql": "decode('89504e4700ff', 'hex')",
              "mariadb": "X'89504E4700FF'"}

SCHEMA = [
    'CREATE TABLE "Artist" ("ArtistId" INTEGER NOT NULL PRIMARY KEY, "Name" VARCHAR(120) NOT NULL)',
    'CREATE TABLE "Album" ("AlbumId" INTEGER NOT NULL PRIMARY KEY, "Title" VARCHAR(160) NOT NULL, '
    '"ArtistId" INTEGER NULL, "Cover" {blob} NULL, '
    'FOREIGN KEY ("ArtistId") REFERENCES "Artist" ("ArtistId"))',
    'CREATE TABLE "Track" ("TrackId" INTEGER NOT NULL PRIMARY KEY, "Name" VARCHAR(200) NOT NULL, '
    '"AlbumId" INTEGER NULL, "Milliseconds" INTEGER NOT NULL, '
    'FOREIGN KEY ("AlbumId") REFERENCES "Album" ("AlbumId"))',
    "CREATE TABLE playlists (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(120) NOT NULL)",
    # An extra column makes it an entity of its own (automap maps it, composite key).
    'CREATE TABLE playlist_track (playlist_id INTEGER NOT NULL, track_id INTEGER NOT NULL, '
    "position INTEGER NOT NULL, PRIMARY KEY (playlist_id, track_id), "
    "FOREIGN KEY (playlist_id) REFERENCES playlists (id), "
    'FOREIGN KEY (track_id) REFERENCES "Track" ("TrackId"))',
    "CREATE TABLE tags (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(50) NOT NULL)",
    # Only two foreign keys: automap makes it a many-to-many link and maps no class for it.
    "CREATE TABLE track_tags (track_id INTEGER NOT NULL, tag_id INTEGER NOT NULL, "
    'PRIMARY KEY (track_id, tag_id), FOREIGN KEY (track_id) REFERENCES "Track" ("TrackId"), '
    "FOREIGN KEY (tag_id) REFERENCES tags (id))",
    "CREATE TABLE employees (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, "
    "manager_id INTEGER NULL, FOREIGN KEY (manager_id) REFERENCES employees (id))",
    "CREATE TABLE reviews (id INTEGER NOT NULL PRIMARY KEY, author_id INTEGER NOT NULL, "
    "reviewer_id INTEGER NULL, note VARCHAR(200) NOT NULL, "
    "FOREIGN KEY (author_id) REFERENCES employees (id), "
    "FOREIGN KEY (reviewer_id) REFERENCES employees (id))",
    'CREATE TABLE widgets (id INTEGER NOT NULL PRIMARY KEY, "filter" VARCHAR(20) NULL, '
    '"sort" INTEGER NULL, "copy" VARCHAR(20) NULL, "model_config" VARCHAR(20) NULL, '
    '"metadata" VARCHAR(20) NULL, "Unit Price" NUMERIC(10, 2) NULL)',
    "CREATE TABLE events (happened VARCHAR(20) NULL, what VARCHAR(50) NULL)",
    # SQL reserved words as table and column names, a Python keyword as a column name.
    'CREATE TABLE "order" (id INTEGER NOT NULL PRIMARY KEY, "from" VARCHAR(20) NOT NULL, '
    '"group" INTEGER NULL, artist_id INTEGER NULL, '
    'FOREIGN KEY (artist_id) REFERENCES "Artist" ("ArtistId"))',
    # Multi-tenant keys: the composite foreign key shares tenant_id with the simple one.
    "CREATE TABLE tenants (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)",
    "CREATE TABLE projects (tenant_id INTEGER NOT NULL, id INTEGER NOT NULL, "
    "name VARCHAR(50) NOT NULL, PRIMARY KEY (tenant_id, id), "
    "FOREIGN KEY (tenant_id) REFERENCES tenants (id))",
    "CREATE TABLE tasks (id INTEGER NOT NULL PRIMARY KEY, tenant_id INTEGER NOT NULL, "
    "project_id INTEGER NULL, title VARCHAR(50) NOT NULL, "
    "FOREIGN KEY (tenant_id) REFERENCES tenants (id), "
    "FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id))",
    'CREATE VIEW album_summary AS SELECT a."AlbumId" AS album_id, a."Title" AS title, '
    'COUNT(t."TrackId") AS track_count FROM "Album" a '
    'LEFT JOIN "Track" t ON t."AlbumId" = a."AlbumId" GROUP BY a."AlbumId", a."Title"',
]

# Types SQLAlchemy does not know and indexes it cannot model: reflection must stay quiet
# (warnings are errors here) and only a listed unknown column is a registry error.
ODD_SCHEMA = {
    "postgresql": [
        "CREATE DOMAIN rating AS integer CHECK (VALUE BETWEEN 0 AND 5)",
        "CREATE TABLE places (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, "
        "stars rating NULL, location point NULL)",
        "CREATE INDEX places_lower_name ON places (lower(name))",
        "CREATE INDEX places_starred ON places (name) WHERE stars > 3",
        "INSERT INTO places VALUES (1, 'Hall', 4, point(1, 2)), (2, 'Club', NULL, NULL)",
    ],
    "mariadb": [
        "CREATE TABLE places (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, "
        "stars INTEGER NULL, location POINT NULL)",
        "INSERT INTO places VALUES (1, 'Hall', 4, POINT(1, 2)), (2, 'Club', NULL, NULL)",
    ],
    "sqlite": [
        "CREATE TABLE places (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, "
        "stars INTEGER NULL, location)",
        "INSERT INTO places VALUES (1, 'Hall', 4, '1,2'), (2, 'Club', NULL, NULL)",
    ],
}

ROWS = [
    'INSERT INTO "Artist" ("ArtistId", "Name") VALUES (1, \'Black Sabbath\'), (2, \'Deep Purple\'), '
    "(3, 'Motorhead')",
    'INSERT INTO "Album" ("AlbumId", "Title", "ArtistId", "Cover") VALUES '
    "(1, 'Paranoid', 1, NULL), (2, 'Machine Head', 2, NULL), (3, 'Burn', 2, NULL), "
    "(4, 'Bootleg', NULL, {blob_value})",
    'INSERT INTO "Track" ("TrackId", "Name", "AlbumId", "Milliseconds") VALUES '
    "(1, 'War Pigs', 1, 470000), (2, 'Iron Man', 1, 356000), (3, 'Highway Star', 2, 365000), "
    "(4, 'Smoke on the Water', 2, 340000), (5, 'Burn', 3, 361000), (6, 'Stray', NULL, 100000), "
    "(7, 'Live Jam', 4, 200000)",
    "INSERT INTO playlists (id, name) VALUES (1, 'Classics'), (2, 'Heavy')",
    "INSERT INTO playlist_track (playlist_id, track_id, position) VALUES "
    "(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 3, 1), (2, 4, 2), (2, 5, 3)",
    "INSERT INTO tags (id, label) VALUES (1, 'rock'), (2, 'metal'), (3, 'live')",
    "INSERT INTO track_tags (track_id, tag_id) VALUES "
    "(1, 1), (1, 3), (2, 1), (3, 1), (3, 2), (4, 2), (5, 2)",
    "INSERT INTO employees (id, name, manager_id) VALUES "
    "(1, 'Andrew', NULL), (2, 'Nancy', 1), (3, 'Jane', 2), (4, 'Margaret', 2), (5, 'Steve', 1)",
    "INSERT INTO reviews (id, author_id, reviewer_id, note) VALUES "
    "(1, 3, 2, 'solid'), (2, 4, NULL, 'pending'), (3, 3, 1, 'great')",
    'INSERT INTO widgets (id, "filter", "sort", "copy", "model_config", "metadata", '
    '"Unit Price") VALUES (1, \'a\', 2, \'x\', \'m1\', \'meta1\', 9.5), '
    "(2, 'b', 1, 'y', 'm2', NULL, NULL), (3, 'a', 3, NULL, NULL, NULL, 12.25)",
    "INSERT INTO events (happened, what) VALUES ('monday', 'release')",
    'INSERT INTO "order" (id, "from", "group", artist_id) VALUES (1, \'shop\', 2, 1), '
    "(2, 'web', 1, NULL), (3, 'shop', NULL, 2)",
    "INSERT INTO tenants (id, name) VALUES (1, 'acme'), (2, 'globex')",
    "INSERT INTO projects (tenant_id, id, name) VALUES (1, 1, 'alpha'), (2, 1, 'beta'), "
    "(2, 2, 'gamma')",
    "INSERT INTO tasks (id, tenant_id, project_id, title) VALUES (1, 1, 1, 'design'), "
    "(2, 2, 1, 'build'), (3, 1, NULL, 'triage'), (4, 2, 1, 'ship')",
]


def dialect_sql(statement: str, backend: str) -> str:
    statement = statement.replace("{blob}", BLOB[backend])
    statement = statement.replace("{blob_value}", BLOB_VALUE[backend])
    # MariaDB quotes with backticks unless sql_mode has ANSI_QUOTES.
    return statement.replace('"', "`") if backend == "mariadb" else statement


async def create_schema(database: Database) -> None:
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            for statement in SCHEMA:
                await connection.execute(text(dialect_sql(statement, database.backend)))
            for statement in [*ROWS, *ODD_SCHEMA[database.backend]]:
                await connection.execute(text(dialect_sql(statement, database.backend)))
    finally:
        await writer.dispose()


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def music_db(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """The legacy schema above, once per backend."""
    database = await create_database(request.param, tmp_path_factory.mktemp("music"))
    try:  # a failing DDL statement must not leave the database behind on the server
        await create_schema(database)
        yield database
    finally:
        await drop_database(database)


REGISTRY = """\
api: {page_size: 20}
resources:
  artists:
    table: Artist
    fields:
      id: ArtistId
      name: Name
      albums: {source: album_collection.Title}
    filters: {albums: [eq, like]}
    sort: [name]
  albums:
    table: Album
    fields:
      id: AlbumId
      title: Title
      artist: {source: artist, fields: {id: ArtistId, name: Name}}
      tracks: {source: track_collection, fields: {id: TrackId, name: Name}, limit: 2}
    filters: {artist.name: [eq, isnull]}
    sort: [artist.name, title]
  tracks:
    table: Track
    fields:
      id: TrackId
      name: Name
      album: album.Title
      artist: album.artist.Name
      tags: tags_collection.label
    filters: {artist: [eq, isnull], tags: [eq, in, not_in], album: [like]}
    search: [name, artist, tags]
    sort: [artist, name]
  employees:
    table: employees
    fields:
      id:
      name:
      manager: {source: employees, fields: {id:, name:}}
      reports: employees_collection.name
      reviews_written: reviews_author_collection.note
    filters: {manager.name: [eq, isnull], reports: [eq, isnull]}
    sort: [manager.name, name]
  reviews:
    table: reviews
    fields:
      id:
      note:
      author: author.name
      reviewer: reviewer.name
    filters: {author: [eq], reviewer: [eq, isnull]}
    sort: [reviewer, author]
  playlist-tracks:
    table: playlist_track
    fields:
      playlist_id:
      track_id:
      position:
      playlist: playlists.name
      track: track.Name
    filters: {playlist: [eq]}
  track-tags:
    table: track_tags
    fields: {track_id:, tag_id:}
  album-summaries:
    table: album_summary
    primary_key: album_id
    # SQLite reports no type for computed view columns: declare it.
    fields: {album_id:, title:, track_count: {type: integer}}
    filters: {track_count: [gte]}
    sort: [track_count]
  widgets:
    table: widgets
    fields: {id:, filter:, sort:, copy:, model_config:, metadata:, price: Unit Price}
    filters: {filter: [eq], sort: [gt], copy: [isnull], model_config: [eq], metadata: [eq],
              price: [gte]}
    sort: [sort, filter, price]
  events:
    table: events
    primary_key: [happened, what]
    fields: {happened:, what:}
  places:
    table: places
    fields: {id:, name:, stars:}
    filters: {stars: [gte, isnull]}
  projects:
    table: projects
    fields: {tenant_id:, id:, name:, tenant: tenants.name, tasks: tasks_collection.title}
  tasks:
    table: tasks
    fields: {id:, title:, tenant: tenants.name, project: projects.name}
    filters: {project: [eq, isnull]}
  orders:
    table: order
    fields: {id:, from:, group:, artist: artist.Name}
    filters: {from: [eq], group: [gte], artist: [eq]}
    sort: [group, from]
  authors:
    table: employees
    # To-many, then to-one back to the base table: EXISTS must not correlate to the outer row.
    fields: {id:, name:, reviewed_by: reviews_author_collection.reviewer.name}
    filters: {reviewed_by: [eq, isnull]}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def music_api(music_db: Database,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """REGISTRY served over music_db; one app per backend, as make_api builds it."""
    path = tmp_path_factory.mktemp("registry") / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    loaded = await load(path, music_db.url)
    engine = make_engine(music_db.url)
    app = create_app(loaded, engine)
    log = count_statements(engine, app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    yield Api(app, client, engine, log, music_db.backend)
    await client.aclose()
    await app.state.signals.close()
    await app.state.reader.close()
    await engine.dispose()


async def fetch(api: Api, path: str, **params: Any) -> tuple[Any, int]:
    """The body of a 200 response and the number of SQL statements it cost."""
    api.log.clear()
    response = await api.get(f"/api/v1/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json(), api.log.count


def items_of(body: dict[str, Any]) -> list[Any]:
    return list(body["items"])


# -- dotted paths through automap's relationship names ------------------------------------


async def test_paths_follow_automap_names_and_missing_links_are_null(music_api: Api) -> None:
    body, statements = await fetch(music_api, "tracks")
    assert body == {"items": [
        {"id": 1, "name": "War Pigs", "album": "Paranoid", "artist": "Black Sabbath",
         "tags": ["rock", "live"]},
        {"id": 2, "name": "Iron Man", "album": "Paranoid", "artist": "Black Sabbath",
         "tags": ["rock"]},
        {"id": 3, "name": "Highway Star", "album": "Machine Head", "artist": "Deep Purple",
         "tags": ["rock", "metal"]},
        {"id": 4, "name": "Smoke on the Water", "album": "Machine Head", "artist": "Deep Purple",
         "tags": ["metal"]},
        {"id": 5, "name": "Burn", "album": "Burn", "artist": "Deep Purple", "tags": ["metal"]},
        # No album: both hops missing. An album without artist: the second hop missing.
        {"id": 6, "name": "Stray", "album": None, "artist": None, "tags": []},
        {"id": 7, "name": "Live Jam", "album": "Bootleg", "artist": None, "tags": []},
    ], "total": 7, "page": 1, "size": 20, "pages": 1, "next": None}
    assert statements == 2  # the page (short: no count) + the tags list


async def test_nested_objects_and_capped_to_many_objects(music_api: Api) -> None:
    body, statements = await fetch(music_api, "albums", order_by="title")
    assert items_of(body) == [
        {"id": 4, "title": "Bootleg", "artist": None,  # no artist: null, not an object of nulls
         "tracks": [{"id": 7, "name": "Live Jam"}]},
        {"id": 3, "title": "Burn", "artist": {"id": 2, "name": "Deep Purple"},
         "tracks": [{"id": 5, "name": "Burn"}]},
        {"id": 2, "title": "Machine Head", "artist": {"id": 2, "name": "Deep Purple"},
         "tracks": [{"id": 3, "name": "Highway Star"}, {"id": 4, "name": "Smoke on the Water"}]},
        {"id": 1, "title": "Paranoid", "artist": {"id": 1, "name": "Black Sabbath"},
         "tracks": [{"id": 1, "name": "War Pigs"}, {"id": 2, "name": "Iron Man"}]},
    ]
    assert statements == 2


async def test_detail_has_the_same_derived_fields(music_api: Api) -> None:
    body, statements = await fetch(music_api, "tracks/7")
    assert body == {"id": 7, "name": "Live Jam", "album": "Bootleg", "artist": None, "tags": []}
    assert statements == 2  # the row + the tags list
    body, statements = await fetch(music_api, "albums/2")
    assert body == {"id": 2, "title": "Machine Head", "artist": {"id": 2, "name": "Deep Purple"},
                    "tracks": [{"id": 3, "name": "Highway Star"},
                               {"id": 4, "name": "Smoke on the Water"}]}
    assert statements == 2


@pytest.mark.parametrize(("query", "ids", "total"), [
    ({"artist": "Deep Purple"}, [3, 4, 5], 3),
    ({"artist__isnull": "true"}, [6, 7], 2),
    ({"artist__isnull": "false", "size": 2}, [1, 2], 5),
    ({"album__like": "Head"}, [3, 4], 2),
    # Track 3 has both tags: EXISTS keeps it one row, and the count agrees.
    ({"tags__in": "rock,metal"}, [1, 2, 3, 4, 5], 5),
    ({"tags__in": "rock,metal", "size": 2, "page": 2}, [3, 4], 5),
    ({"tags": "rock"}, [1, 2, 3], 3),
    ({"tags__not_in": "rock"}, [4, 5, 6, 7], 4),
    ({"search": "sabbath"}, [1, 2], 2),
    ({"search": "BURN"}, [5], 1),
    ({"search": "live"}, [1, 7], 2),
], ids=["path-eq", "path-isnull", "path-not-null-counted", "path-like", "to-many-in",
        "to-many-in-page-2", "to-many-eq", "to-many-not-in", "search-path", "search-column",
        "search-to-many"])
async def test_filters_on_paths_and_to_many_fields(music_api: Api, query: dict[str, str],
                                                   ids: list[int], total: int) -> None:
    body, statements = await fetch(music_api, "tracks", **query)
    assert [item["id"] for item in body["items"]] == ids
    assert body["total"] == total
    assert statements <= 3  # page + count + the tags list


@pytest.mark.parametrize(("order_by", "ids"), [
    ("artist,name", [2, 1, 5, 3, 4, 7, 6]),
    # Descending puts nulls first on every backend; the primary key breaks ties.
    ("-artist,name", [7, 6, 5, 3, 4, 2, 1]),
], ids=["path-ascending", "path-descending"])
async def test_sort_on_path_fields(music_api: Api, order_by: str, ids: list[int]) -> None:
    body, _ = await fetch(music_api, "tracks", order_by=order_by)
    assert [item["id"] for item in body["items"]] == ids


async def test_nested_object_field_filters_and_sorts(music_api: Api) -> None:
    body, _ = await fetch(music_api, "albums", **{"artist.name": "Deep Purple",
                                                  "order_by": "-title"})
    assert [item["id"] for item in body["items"]] == [2, 3]
    body, _ = await fetch(music_api, "albums", **{"artist.name__isnull": "true"})
    assert [item["id"] for item in body["items"]] == [4]


async def test_to_many_of_a_pascal_case_table(music_api: Api) -> None:
    body, statements = await fetch(music_api, "artists", order_by="name")
    assert items_of(body) == [
        {"id": 1, "name": "Black Sabbath", "albums": ["Paranoid"]},
        {"id": 2, "name": "Deep Purple", "albums": ["Machine Head", "Burn"]},
        {"id": 3, "name": "Motorhead", "albums": []},
    ]
    assert statements == 2
    body, _ = await fetch(music_api, "artists", albums__like="Bur")
    assert [item["id"] for item in body["items"]] == [2]


# -- self-reference and two foreign keys to one table -------------------------------------


async def test_self_reference_both_ways(music_api: Api) -> None:
    body, statements = await fetch(music_api, "employees")
    assert items_of(body) == [
        {"id": 1, "name": "Andrew", "manager": None,
         "reports": ["Nancy", "Steve"], "reviews_written": []},
        {"id": 2, "name": "Nancy", "manager": {"id": 1, "name": "Andrew"},
         "reports": ["Jane", "Margaret"], "reviews_written": []},
        {"id": 3, "name": "Jane", "manager": {"id": 2, "name": "Nancy"},
         "reports": [], "reviews_written": ["solid", "great"]},
        {"id": 4, "name": "Margaret", "manager": {"id": 2, "name": "Nancy"},
         "reports": [], "reviews_written": ["pending"]},
        {"id": 5, "name": "Steve", "manager": {"id": 1, "name": "Andrew"},
         "reports": [], "reviews_written": []},
    ]
    assert statements == 3  # page + one statement per to-many field


@pytest.mark.parametrize(("query", "ids"), [
    ({"manager.name": "Nancy"}, [3, 4]),
    ({"manager.name__isnull": "true"}, [1]),
    ({"reports": "Jane"}, [2]),
    ({"reports__isnull": "true"}, [3, 4, 5]),
    ({"reports__isnull": "false"}, [1, 2]),
    # Ascending puts the null manager last.
    ({"order_by": "manager.name,name"}, [2, 5, 3, 4, 1]),
], ids=["manager-eq", "manager-null", "reports-exists", "reports-none", "reports-some",
        "sort-by-manager"])
async def test_self_reference_filters_and_sort(music_api: Api, query: dict[str, str],
                                               ids: list[int]) -> None:
    body, _ = await fetch(music_api, "employees", **query)
    assert [item["id"] for item in body["items"]] == ids
    assert body["total"] == len(ids)


async def test_two_foreign_keys_to_one_table_get_column_names(music_api: Api) -> None:
    body, statements = await fetch(music_api, "reviews", order_by="reviewer")
    assert items_of(body) == [
        {"id": 3, "note": "great", "author": "Jane", "reviewer": "Andrew"},
        {"id": 1, "note": "solid", "author": "Jane", "reviewer": "Nancy"},
        {"id": 2, "note": "pending", "author": "Margaret", "reviewer": None},
    ]
    assert statements == 1
    body, _ = await fetch(music_api, "reviews", author="Jane", reviewer__isnull="false")
    assert [item["id"] for item in body["items"]] == [1, 3]


async def test_overlapping_composite_foreign_keys(music_api: Api) -> None:
    body, statements = await fetch(music_api, "tasks")
    assert items_of(body) == [
        {"id": 1, "title": "design", "tenant": "acme", "project": "alpha"},
        # Project 1 of tenant 2, not of tenant 1: the whole composite key is joined.
        {"id": 2, "title": "build", "tenant": "globex", "project": "beta"},
        {"id": 3, "title": "triage", "tenant": "acme", "project": None},
        {"id": 4, "title": "ship", "tenant": "globex", "project": "beta"},
    ]
    assert statements == 1
    body, _ = await fetch(music_api, "tasks", project="beta")
    assert [item["id"] for item in body["items"]] == [2, 4]
    body, statements = await fetch(music_api, "projects")
    assert items_of(body) == [
        {"tenant_id": 1, "id": 1, "name": "alpha", "tenant": "acme", "tasks": ["design"]},
        {"tenant_id": 2, "id": 1, "name": "beta", "tenant": "globex", "tasks": ["build", "ship"]},
        {"tenant_id": 2, "id": 2, "name": "gamma", "tenant": "globex", "tasks": []},
    ]
    assert statements == 2
    body, statements = await fetch(music_api, "projects/2,1")
    assert body == {"tenant_id": 2, "id": 1, "name": "beta", "tenant": "globex",
                    "tasks": ["build", "ship"]}
    assert statements == 2


@pytest.mark.parametrize(("query", "ids"), [
    ({}, [1, 2, 3, 4, 5]),
    ({"reviewed_by": "Nancy"}, [3]),
    ({"reviewed_by": "Andrew"}, [3]),
    ({"reviewed_by": "Jane"}, []),
    ({"reviewed_by__isnull": "false"}, [3]),
], ids=["all", "nancy", "andrew", "nobody", "any-reviewer"])
async def test_to_many_path_back_to_the_base_table(music_api: Api, query: dict[str, str],
                                                   ids: list[int]) -> None:
    body, _ = await fetch(music_api, "authors", **query)
    assert [item["id"] for item in body["items"]] == ids


async def test_to_many_path_back_to_the_base_table_values(music_api: Api) -> None:
    body, statements = await fetch(music_api, "authors/3")
    # Lists are ordered by the primary key of the table the path ends at.
    assert body == {"id": 3, "name": "Jane", "reviewed_by": ["Andrew", "Nancy"]}
    assert statements == 2


# -- keys: composite, association tables, views, key-less tables ---------------------------


@pytest.mark.parametrize(("path", "expected"), [
    ("playlist-tracks/2,3", {"playlist_id": 2, "track_id": 3, "position": 1,
                             "playlist": "Heavy", "track": "Highway Star"}),
    ("track-tags/3,2", {"track_id": 3, "tag_id": 2}),
    ("album-summaries/2", {"album_id": 2, "title": "Machine Head", "track_count": 2}),
    ("events/monday,release", {"happened": "monday", "what": "release"}),
], ids=["composite-key", "association-table", "view", "keyless-table"])
async def test_detail_by_declared_or_composite_key(music_api: Api, path: str,
                                                   expected: dict[str, Any]) -> None:
    body, statements = await fetch(music_api, path)
    assert body == expected
    assert statements == 1


@pytest.mark.parametrize(("path", "status"), [
    ("playlist-tracks/2,9", 404),
    ("playlist-tracks/2", 422),
    ("playlist-tracks/2,x", 422),
], ids=["missing", "arity", "type"])
async def test_composite_key_errors(music_api: Api, path: str, status: int) -> None:
    response = await music_api.get(f"/api/v1/{path}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_composite_key_list_filters_through_a_path(music_api: Api) -> None:
    body, statements = await fetch(music_api, "playlist-tracks", playlist="Heavy")
    assert items_of(body) == [
        {"playlist_id": 2, "track_id": 3, "position": 1, "playlist": "Heavy",
         "track": "Highway Star"},
        {"playlist_id": 2, "track_id": 4, "position": 2, "playlist": "Heavy",
         "track": "Smoke on the Water"},
        {"playlist_id": 2, "track_id": 5, "position": 3, "playlist": "Heavy", "track": "Burn"},
    ]
    assert statements == 1


async def test_view_with_declared_primary_key(music_api: Api) -> None:
    body, statements = await fetch(music_api, "album-summaries", order_by="-track_count",
                                   track_count__gte="1")
    assert body == {"items": [
        {"album_id": 1, "title": "Paranoid", "track_count": 2},
        {"album_id": 2, "title": "Machine Head", "track_count": 2},
        {"album_id": 3, "title": "Burn", "track_count": 1},
        {"album_id": 4, "title": "Bootleg", "track_count": 1},
    ], "total": 4, "page": 1, "size": 20, "pages": 1, "next": None}
    assert statements == 1


# -- columns named like the libraries' own attributes ---------------------------------------


@pytest.mark.parametrize(("query", "ids"), [
    ({"filter": "a"}, [1, 3]),
    ({"sort__gt": "1"}, [1, 3]),
    ({"copy__isnull": "true"}, [3]),
    ({"model_config": "m2"}, [2]),
    ({"metadata": "meta1"}, [1]),
    ({"price__gte": "10"}, [3]),
    ({"order_by": "-price"}, [2, 3, 1]),  # nulls first when descending
    ({"order_by": "-sort"}, [3, 1, 2]),
    ({"order_by": "filter,-sort"}, [3, 1, 2]),
], ids=["filter", "sort", "copy", "model_config", "metadata", "spaced-name",
        "order-by-spaced-name", "order-by-sort", "order-by-filter"])
async def test_columns_named_like_library_attributes(music_api: Api, query: dict[str, str],
                                                     ids: list[int]) -> None:
    body, _ = await fetch(music_api, "widgets", **query)
    assert [item["id"] for item in body["items"]] == ids


@pytest.mark.parametrize(("query", "ids"), [
    ({}, [1, 2, 3]),
    ({"from": "shop"}, [1, 3]),
    ({"group__gte": "2"}, [1]),
    ({"artist": "Deep Purple"}, [3]),
    ({"order_by": "group"}, [2, 1, 3]),
    ({"order_by": "-from,group"}, [2, 1, 3]),
], ids=["all", "keyword-column", "reserved-column", "path-from-reserved-table",
        "sort-reserved", "sort-keyword"])
async def test_reserved_words_as_names(music_api: Api, query: dict[str, str],
                                       ids: list[int]) -> None:
    body, _ = await fetch(music_api, "orders", **query)
    assert [item["id"] for item in body["items"]] == ids


async def test_reserved_words_body(music_api: Api) -> None:
    body, _ = await fetch(music_api, "orders/1")
    assert body == {"id": 1, "from": "shop", "group": 2, "artist": "Black Sabbath"}


async def test_widgets_body_and_schema_keep_attribute_like_names(music_api: Api) -> None:
    body, _ = await fetch(music_api, "widgets/1")
    assert body == {"id": 1, "filter": "a", "sort": 2, "copy": "x", "model_config": "m1",
                    "metadata": "meta1", "price": 9.5}
    schema = (await music_api.get("/openapi.json")).json()["components"]["schemas"]["Widget"]
    assert list(schema["properties"]) == ["id", "filter", "sort", "copy", "model_config",
                                          "metadata", "price"]


async def test_unlisted_binary_column_is_never_read(music_api: Api) -> None:
    await fetch(music_api, "albums")
    assert not any('"Cover"' in statement or "`Cover`" in statement
                   for statement in music_api.log.statements)


async def test_unknown_types_and_domains_stay_out_of_the_way(music_api: Api) -> None:
    body, _ = await fetch(music_api, "places")
    assert items_of(body) == [{"id": 1, "name": "Hall", "stars": 4},
                              {"id": 2, "name": "Club", "stars": None}]
    body, _ = await fetch(music_api, "places", stars__gte="3")
    assert items_of(body) == [{"id": 1, "name": "Hall", "stars": 4}]
    schema = (await music_api.get("/openapi.json")).json()["components"]["schemas"]["Place"]
    assert schema["properties"]["stars"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]


# -- registry mistakes, located -------------------------------------------------------------

BAD = """\
resources:
  albums:
    table: Albums
    fields: {id: AlbumId}
  tracks:
    table: Track
    fields:
      id: TrackId
      title: Nmae
      artist: album.artists.Name
      album: {source: albun, fields: {title: Title}}
      cover: album.Cover
  summaries:
    table: album_summary
    fields: {album_id:}
  reviews:
    table: reviews
    fields: {id:, by: authors.name}
  places:
    table: places
    fields: {id:, location:}
"""

BAD_ISSUES = [
    "registry.yaml:3: resources.albums.table: no table or view 'Albums' in the database "
    "(did you mean 'Album'?)",
    "registry.yaml:9: resources.tracks.fields.title.source: table 'Track' has no column 'Nmae' "
    "(did you mean 'Name'?)",
    "registry.yaml:10: resources.tracks.fields.artist.source: table 'Album' has no "
    "relationship 'artists' (did you mean 'artist'?)",
    "registry.yaml:11: resources.tracks.fields.album.source: table 'Track' has no "
    "relationship 'albun' (did you mean 'album'?)",
    "registry.yaml:12: resources.tracks.fields.cover.source: column 'Cover' of table 'Album' "
    "is binary, which JSON cannot carry; leave it out or expose an expression",
    "registry.yaml:14: resources.summaries.table: view 'album_summary' has no primary key; "
    "name one with 'primary_key:' (a column or a list of columns that identify a row)",
    "registry.yaml:18: resources.reviews.fields.by.source: table 'reviews' has no "
    "relationship 'authors' (did you mean 'author'?)",
    "registry.yaml:21: resources.places.fields.location.source: column 'location' of table "
    "'places' has a type SQLAlchemy does not know (SQLite leaves computed view columns "
    "untyped); declare one with 'type:' (string, integer, number, boolean, date, datetime) "
    "or cast it to text in a view",
]


async def test_registry_mistakes_are_located_with_hints(music_db: Database,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        await load(path, music_db.url)
    assert [str(issue).replace(str(tmp_path) + "/", "") for issue in caught.value.issues] \
        == BAD_ISSUES


async def test_unknown_relationship_lists_the_valid_names(music_db: Database,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("resources:\n  employees:\n    table: employees\n"
                    "    fields: {id:, boss: xyz.name}\n", encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        await load(path, music_db.url)
    assert str(caught.value) == (
        f"{path}:4: resources.employees.fields.boss.source: table 'employees' has no "
        "relationship 'xyz' (valid: employees, employees_collection, "
        "reviews_author_collection, reviews_reviewer_collection)")


def test_check_command_prints_location_and_hint(music_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("resources:\n  artists:\n    table: Artist\n"
                    "    fields: {id: ArtistId, name: Nmae}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "from crud.cli import main; main()",
         "check", "--registry", str(path), "--database-url", music_db.url],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:4: resources.artists.fields.name.source: table 'Artist' has no column 'Nmae' "
        "(did you mean 'Name'?)",
    ]


def test_check_command_accepts_the_legacy_schema_quietly(music_db: Database,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "from crud.cli import main; main()",
         "check", "--registry", str(path), "--database-url", music_db.url],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr) == (0, "")  # no warnings about 'point' either
    assert result.stdout.endswith(
        "OK (15 resources: artists, albums, tracks, employees, reviews, playlist-tracks, "
        "track-tags, album-summaries, widgets, events, places, projects, tasks, orders, "
        "authors)\n")


# -- PostgreSQL schemas ---------------------------------------------------------------------

SCHEMAS = [
    "CREATE SCHEMA inventory",
    "CREATE TABLE employees (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)",
    # The same table name in two schemas, and both linked from one table.
    "CREATE TABLE inventory.employees (id INTEGER NOT NULL PRIMARY KEY, "
    "badge VARCHAR(20) NOT NULL)",
    "CREATE TABLE inventory.items (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(50) NOT NULL, "
    "holder_id INTEGER NULL REFERENCES employees (id), "
    "keeper_id INTEGER NULL REFERENCES inventory.employees (id))",
    "CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(50) NOT NULL, "
    "owner_id INTEGER NULL REFERENCES employees (id))",
    "INSERT INTO employees VALUES (1, 'Ann'), (2, 'Bob')",
    "INSERT INTO inventory.employees VALUES (1, 'B-7')",
    "INSERT INTO inventory.items VALUES (1, 'drill', 1, 1), (2, 'saw', 2, NULL), "
    "(3, 'tape', NULL, 1)",
    "INSERT INTO items VALUES (1, 'desk', 2)",
    "CREATE MATERIALIZED VIEW item_labels AS SELECT id, label FROM inventory.items",
]

SCHEMA_REGISTRY = """\
resources:
  stock:
    table: items
    schema: inventory
    fields:
      id:
      label:
      holder: holder.name
      keeper: keeper.badge
    filters: {holder: [eq, isnull]}
    sort: [holder]
  people:
    table: employees
    fields:
      id:
      name:
      desks: items_collection.label
      stock: inventory_items_collection.label
  badges:
    table: employees
    schema: inventory
    fields: {id:, badge:, kept: items_collection.label}
  desks:
    table: items
    schema: public   # the default schema by name: the same tables, not a second copy
    fields: {id:, label:, owner: employees.name}
  labels:
    table: item_labels   # a materialized view
    primary_key: id
    fields: {id:, label:}
"""


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_tables_of_another_schema(empty_db: Database, make_api: Callable[..., Any]) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        async with writer.begin() as connection:
            for statement in SCHEMAS:
                await connection.execute(text(statement))
    finally:
        await writer.dispose()
    api: Api = await make_api(SCHEMA_REGISTRY, empty_db.url, empty_db.backend)
    body, statements = await fetch(api, "stock", order_by="holder")
    assert items_of(body) == [
        {"id": 1, "label": "drill", "holder": "Ann", "keeper": "B-7"},
        {"id": 2, "label": "saw", "holder": "Bob", "keeper": None},
        {"id": 3, "label": "tape", "holder": None, "keeper": "B-7"},
    ]
    assert statements == 1
    body, _ = await fetch(api, "stock", holder="Bob")
    assert [item["id"] for item in body["items"]] == [2]
    body, _ = await fetch(api, "people")
    assert items_of(body) == [{"id": 1, "name": "Ann", "desks": [], "stock": ["drill"]},
                              {"id": 2, "name": "Bob", "desks": ["desk"], "stock": ["saw"]}]
    body, _ = await fetch(api, "badges/1")
    assert body == {"id": 1, "badge": "B-7", "kept": ["drill", "tape"]}
    body, _ = await fetch(api, "desks")
    assert items_of(body) == [{"id": 1, "label": "desk", "owner": "Bob"}]
    body, _ = await fetch(api, "labels/2")
    assert body == {"id": 2, "label": "saw"}
    async with api.engine.connect() as connection:
        database = await connection.run_sync(ReflectedDatabase.reflect, [None, "public"])
    assert sorted(database.metadata.tables) == ["employees", "item_labels", "items"]
    assert database.entity("item_labels", "public").label == "view 'item_labels'"


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_unknown_table_in_a_schema_is_hinted(empty_db: Database, tmp_path: Path) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        async with writer.begin() as connection:
            for statement in SCHEMAS[:4]:
                await connection.execute(text(statement))
    finally:
        await writer.dispose()
    path = tmp_path / "registry.yaml"
    path.write_text("resources:\n  stock:\n    table: itemz\n    schema: inventory\n"
                    "    fields: {id:}\n", encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        await load(path, empty_db.url)
    assert str(caught.value) == (f"{path}:3: resources.stock.table: no table or view 'itemz' "
                                 "in schema 'inventory' (did you mean 'items'?)")


async def test_unreachable_database_is_a_registry_error(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("resources:\n  a:\n    table: x\n    fields: {id:}\n", encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db"
    with pytest.raises(RegistryError) as caught:
        await load(path, url)
    assert str(caught.value) == (
        f"{path}: database: cannot reflect 'table:' resources from {url}: unable to open "
        "database file (check --database-url or DATABASE_URL)")


# -- the documented example and naming rules ------------------------------------------------


def docs_example() -> str:
    text_ = (ROOT / "docs" / "reflection.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- reflection-example[^>]*-->\n```yaml\n(.*?)```", text_, re.S)
    assert match, "docs/reflection.md lost its registry example"
    return match.group(1)


async def test_the_documented_example_serves(music_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(docs_example(), music_db.url, music_db.backend)
    body, _ = await fetch(api, "tracks", tags__in="metal,live", order_by="-artist,name")
    assert [item["id"] for item in body["items"]] == [5, 3, 4, 1]
    body, _ = await fetch(api, "employees/3")
    assert body == {"id": 3, "name": "Jane", "manager": {"id": 2, "name": "Nancy"},
                    "reports": []}
    body, _ = await fetch(api, "reviews/2")
    assert body == {"id": 2, "note": "pending", "author": "Margaret", "reviewer": None}
    body, _ = await fetch(api, "playlist-tracks/2,3")
    assert body == {"playlist_id": 2, "track_id": 3, "position": 1, "track": "Highway Star"}
    body, _ = await fetch(api, "album-summaries/1")
    assert body == {"album_id": 1, "title": "Paranoid", "track_count": 2}


NAMING_CASES = {
    "defaults": (
        ["CREATE TABLE artist (id INTEGER PRIMARY KEY)",
         "CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER REFERENCES artist(id))"],
        {"artist": ["album_collection"], "album": ["artist"]},
    ),
    "self-reference": (
        ["CREATE TABLE staff (id INTEGER PRIMARY KEY, boss_id INTEGER REFERENCES staff(id))"],
        {"staff": ["staff", "staff_collection"]},
    ),
    "two-links-to-one-table": (
        ["CREATE TABLE person (id INTEGER PRIMARY KEY)",
         "CREATE TABLE loan (id INTEGER PRIMARY KEY, lender_id INTEGER REFERENCES person(id), "
         "BorrowerId INTEGER REFERENCES person(id))"],
        {"person": ["loan_Borrower_collection", "loan_lender_collection"],
         "loan": ["Borrower", "lender"]},
    ),
    "name-taken-by-a-column": (
        ["CREATE TABLE artist (id INTEGER PRIMARY KEY)",
         "CREATE TABLE album (id INTEGER PRIMARY KEY, artist TEXT, "
         "artist_id INTEGER REFERENCES artist(id))"],
        {"artist": ["album_collection"], "album": ["artist_ref"]},
    ),
    "many-to-many": (
        ["CREATE TABLE track (id INTEGER PRIMARY KEY)",
         "CREATE TABLE tag (id INTEGER PRIMARY KEY)",
         "CREATE TABLE track_tag (track_id INTEGER REFERENCES track(id), "
         "tag_id INTEGER REFERENCES tag(id), PRIMARY KEY (track_id, tag_id))"],
        {"track": ["tag_collection"], "tag": ["track_collection"]},
    ),
    "self-many-to-many": (
        ["CREATE TABLE member (id INTEGER PRIMARY KEY)",
         "CREATE TABLE friendship (member_id INTEGER REFERENCES member(id), "
         "friend_id INTEGER REFERENCES member(id), PRIMARY KEY (member_id, friend_id))"],
        {"member": ["member_friend_collection", "member_member_collection"]},
    ),
}


@pytest.mark.parametrize(("ddl", "expected"), list(NAMING_CASES.values()),
                         ids=list(NAMING_CASES))
def test_relationship_names(ddl: list[str], expected: dict[str, list[str]]) -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        for statement in ddl:
            connection.execute(text(statement))
        database = ReflectedDatabase.reflect(connection, [None])
    engine.dispose()
    names = {mapped.__name__: sorted(inspect(mapped).relationships.keys())
             for mapped in database.base.classes}
    assert names == expected


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_tables_of_another_database_on_mariadb(empty_db: Database, tmp_path: Path,
                                                      make_api: Callable[..., Any]) -> None:
    # On MariaDB a schema is a database; its foreign keys name the default one explicitly.
    other = await create_database("mariadb", tmp_path)
    try:
        writer = make_engine(empty_db.url, read_only=False)
        try:
            async with writer.begin() as connection:
                for statement in [
                    "CREATE TABLE people (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(20))",
                    f"CREATE TABLE {other.name}.items (id INTEGER NOT NULL PRIMARY KEY, "
                    "label VARCHAR(20), owner_id INTEGER NULL, "
                    f"FOREIGN KEY (owner_id) REFERENCES {empty_db.name}.people (id))",
                    "INSERT INTO people VALUES (1, 'Ann')",
                    f"INSERT INTO {other.name}.items VALUES (1, 'saw', 1), (2, 'tape', NULL)",
                ]:
                    await connection.execute(text(statement))
        finally:
            await writer.dispose()
        api: Api = await make_api(
            "resources:\n"
            f"  items:\n    table: items\n    schema: {other.name}\n"
            "    fields: {id:, label:, owner: people.name}\n    filters: {owner: [eq]}\n"
            "  people:\n    table: people\n"
            "    fields: {id:, name:, items: items_collection.label}\n",
            empty_db.url, empty_db.backend)
        body, _ = await fetch(api, "items", owner="Ann")
        assert items_of(body) == [{"id": 1, "label": "saw", "owner": "Ann"}]
        body, _ = await fetch(api, "people/1")
        assert body == {"id": 1, "name": "Ann", "items": ["saw"]}
    finally:
        await drop_database(other)
