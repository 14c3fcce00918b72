"""``crud init``: a starter registry from a live database, accepted by ``crud check`` and
served unchanged by ``crud serve``, on SQLite, PostgreSQL and MariaDB.

The database is tests/test_reflection.py's legacy schema (PascalCase and quoted names,
reserved words, composite and overlapping keys, nullable and self-referencing foreign keys,
a view, a key-less table, binary and unknown types) plus a few tables for what only the
starter decides: secrets, a key found in a unique index, a secret key, a column named like
a reserved parameter, a YAML keyword as a name, an indexed timestamp.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml
from conftest import BACKENDS, ROOT, Database, create_database, drop_database
from served import served
from sqlalchemy import text
from test_reflection import create_schema, dialect_sql

from crud.sql.database import make_engine
from crud.starter import api_name, looks_secret

EXTRA = [
    'CREATE TABLE "Users" ("UserId" INTEGER NOT NULL PRIMARY KEY, '
    '"Email" VARCHAR(100) NOT NULL, "PasswordHash" VARCHAR(100) NULL, '
    'api_token VARCHAR(64) NULL, created_at TIMESTAMP NULL, active BOOLEAN NOT NULL, '
    # Table-level: SQLAlchemy does not reflect SQLite's column-level UNIQUE.
    '"null" VARCHAR(10) NULL, size INTEGER NULL, UNIQUE ("Email"))',
    'CREATE INDEX users_created ON "Users" (created_at)',
    'CREATE INDEX users_size ON "Users" (size)',
    "CREATE TABLE sessions (token VARCHAR(64) NOT NULL PRIMARY KEY, user_id INTEGER NULL)",
    "CREATE TABLE settings (name VARCHAR(50) NOT NULL, value VARCHAR(100) NULL)",
    "CREATE UNIQUE INDEX settings_name ON settings (name)",
    'INSERT INTO "Users" ("UserId", "Email", "PasswordHash", api_token, created_at, active, '
    '"null", size) VALUES (1, \'ann@example.org\', \'$2b$12$abc\', \'tok-1\', '
    "'2026-01-02 03:04:05', TRUE, 'x', 3), (2, 'bob@example.org', NULL, NULL, NULL, FALSE, "
    "NULL, NULL)",
    "INSERT INTO sessions VALUES ('s3cr3t', 1)",
    "INSERT INTO settings VALUES ('theme', 'dark'), ('lang', NULL)",
]

SERVED = ["album", "artist", "employees", "order", "places", "playlist-track", "playlists",
          "projects", "reviews", "settings", "tags", "tasks", "tenants", "track", "track-tags",
          "users", "widgets"]
COMMENTED = ["album-summary", "events", "sessions"]


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def legacy_db(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path_factory.mktemp("starter"))
    try:
        await create_schema(database)
        writer = make_engine(database.url, read_only=False)
        try:
            async with writer.begin() as connection:
                for statement in EXTRA:
                    await connection.execute(text(dialect_sql(statement, database.backend)))
        finally:
            await writer.dispose()
        yield database
    finally:
        await drop_database(database)


def crud(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from crud.cli import main; main()",
                           *arguments], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def starter(legacy_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The registry ``crud init`` writes for ``legacy_db``."""
    output = tmp_path_factory.mktemp("init") / "registry.yaml"
    result = crud("init", "--database-url", legacy_db.url, "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"Wrote {output}: 20 resources (3 commented out: {', '.join(COMMENTED)}). Review it, "
        f"then: crud check --registry {output} --database-url URL\n")
    return output


def resources(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(data["resources"])


def test_crud_check_accepts_what_init_writes(starter: Path, legacy_db: Database) -> None:
    result = crud("check", "--registry", str(starter), "--database-url", legacy_db.url)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.endswith(f"OK ({len(SERVED)} resources: {', '.join(SERVED)})\n")


def test_every_table_and_view_is_listed(starter: Path) -> None:
    assert sorted(resources(starter)) == SERVED
    written = starter.read_text(encoding="utf-8")
    for name in COMMENTED:
        assert f"\n  # {name}:\n" in written


def test_fields_keep_their_columns_under_snake_case_names(starter: Path) -> None:
    album = resources(starter)["album"]
    assert album["table"] == "Album"
    assert album["fields"] == {"album_id": "AlbumId", "title": "Title", "artist_id": "ArtistId"}
    assert resources(starter)["widgets"]["fields"]["unit_price"] == "Unit Price"
    assert "null" in resources(starter)["users"]["fields"]  # quoted: not YAML's null


def test_secrets_and_binary_columns_are_left_out_with_a_reason(starter: Path) -> None:
    users = resources(starter)["users"]
    assert list(users["fields"]) == ["user_id", "email", "created_at", "active", "null", "size"]
    written = starter.read_text(encoding="utf-8")
    for line in [
        "      # password_hash: PasswordHash  # left out: looks like a secret; uncomment only "
        "if it is not one",
        "      # api_token:  # left out: looks like a secret; uncomment only if it is not one",
        "      # cover: Cover  # left out: it is binary, which JSON cannot carry",
    ]:
        assert line in written.splitlines()


def test_filters_on_indexed_columns_and_sort_on_the_key_and_them(starter: Path) -> None:
    users = resources(starter)["users"]
    assert users["filters"] == {
        "user_id": ["eq", "in", "gte", "lte"], "email": ["eq", "in"],
        "created_at": ["gte", "lt", "isnull"],
        # ?size= is the page size: the column keeps its other operators.
        "size": ["in", "gte", "lte", "isnull"]}
    assert users["sort"] == ["user_id", "email", "created_at", "size"]
    assert resources(starter)["playlist-track"]["sort"] == ["playlist_id", "track_id"]


def test_a_unique_index_over_non_null_columns_is_the_key(starter: Path) -> None:
    assert resources(starter)["settings"]["primary_key"] == ["name"]


@pytest.mark.parametrize(("name", "reason"), [
    ("album-summary", "a view has no primary key and no unique index over non-null columns"),
    ("events", "the table has no primary key and no unique index over non-null columns"),
    ("sessions", "its key column(s) token cannot be exposed"),
])
def test_resources_without_a_usable_key_are_commented_out_saying_why(
        starter: Path, name: str, reason: str) -> None:
    written = starter.read_text(encoding="utf-8")
    block = written.split(f"\n  # {name}:\n")[0].rsplit("\n\n", 1)[1]
    assert reason in " ".join(line.strip("# ") for line in block.splitlines())


def test_crud_serve_serves_it_unchanged(starter: Path, legacy_db: Database,
                                        tmp_path: Path) -> None:
    with served(starter, legacy_db.url, tmp_path) as server, \
            httpx.Client(base_url=server.url() + "/api/v1", timeout=10) as client:
        lists = {name: client.get(f"/{name}") for name in SERVED}
        user = client.get("/users/1").json()
        recent = client.get("/users", params={"created_at__gte": "2026-01-01"}).json()
        setting = client.get("/settings/theme").json()
        tasks = client.get("/projects/2,1").json()
    assert {name: response.status_code for name, response in lists.items()} == dict.fromkeys(
        SERVED, 200)
    # MariaDB's BOOLEAN is TINYINT(1), which reflects as an integer.
    assert user == {"user_id": 1, "email": "ann@example.org",
                    "created_at": "2026-01-02T03:04:05+00:00",
                    "active": 1 if legacy_db.backend == "mariadb" else True, "null": "x",
                    "size": 3}
    assert [item["user_id"] for item in recent["items"]] == [1]
    assert setting == {"name": "theme", "value": "dark"}
    assert tasks == {"tenant_id": 2, "id": 1, "name": "beta"}
    assert all("tok-1" not in response.text and "$2b$" not in response.text
               for response in lists.values())


# -- the command's refusals --------------------------------------------------------------


@pytest.mark.parametrize("legacy_db", ["sqlite"], indirect=True)
def test_an_existing_file_is_kept_unless_forced(starter: Path, legacy_db: Database) -> None:
    before = starter.read_text(encoding="utf-8")
    refused = crud("init", "--database-url", legacy_db.url, "-o", str(starter))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (f"crud init: {starter} exists; pass --force to overwrite it, or "
                              "-o another file\n")
    forced = crud("init", "--database-url", legacy_db.url, "-o", str(starter), "--force")
    assert forced.returncode == 0, forced.stderr
    assert starter.read_text(encoding="utf-8") == before  # and the output is deterministic


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = crud("init", "--database-url", f"sqlite+aiosqlite:///{missing}",
                  "-o", str(tmp_path / "registry.yaml"))
    assert (result.returncode, result.stderr) == (
        1, f"crud init: no SQLite database at {missing} (check --database-url)\n")
    assert not missing.exists()
    assert not (tmp_path / "registry.yaml").exists()


def test_an_unreachable_server_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/nowhere"
    result = crud("init", "--database-url", url, "-o", str(tmp_path / "registry.yaml"))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "crud init: cannot reflect postgresql+asyncpg://postgres:***@127.0.0.1:1/nowhere: ")
    assert result.stderr.endswith("(check --database-url or DATABASE_URL)\n")
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
def test_an_empty_database_gives_an_empty_registry_that_checks(empty_db: Database,
                                                               tmp_path: Path) -> None:
    output = tmp_path / "registry.yaml"
    assert crud("init", "--database-url", empty_db.url, "-o", str(output)).returncode == 0
    assert resources(output) == {}
    result = crud("check", "--registry", str(output), "--database-url", empty_db.url)
    assert (result.returncode, result.stderr) == (0, "")


# -- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "api", "secret"), [
    ("ArtistId", "artist_id", False),
    ("Unit Price", "unit_price", False),
    ("HTTPStatus", "http_status", False),
    ("model_config", "model_config", False),
    ("2fa_enabled", "c_2fa_enabled", False),
    ("PasswordHash", "password_hash", True),
    ("api_key", "api_key", True),
    ("webhook_secret", "webhook_secret", True),
    ("refreshToken", "refresh_token", True),
    ("salt", "salt", True),
    ("monkey", "monkey", False),
    ("keyword", "keyword", False),
    ("tokens_used", "tokens_used", True),
])
def test_api_names_and_secret_words(column: str, api: str, secret: bool) -> None:
    assert (api_name(column), looks_secret(column)) == (api, secret)
