"""The ``crud`` command fails in one located line and exit 1, never with a traceback.

Each case runs the real command in a process of its own, in an empty folder, against the
real database servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import MARIADB_SERVER, PG_SERVER, ROOT, Database
from sqlalchemy.engine import make_url

from crud.sql.database import make_engine
from resources.demo import load_demo_data

HINT = "(check --database-url or DATABASE_URL)"


def crud(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The tests' own settings (a DATABASE_URL in the environment) must not leak in.
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith("CRUD_") and key != "DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "crud.cli", *args], cwd=cwd,
                          env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=120, check=False)


def other_database(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    result = crud("--version", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"crud {version('crud')}\n", "")


@pytest.mark.parametrize("empty_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_demo_data_on_a_filled_database_is_one_line(empty_db: Database, tmp_path: Path) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        await load_demo_data(writer, scale=5)
    finally:
        await writer.dispose()
    result = crud("demo-data", "--database-url", empty_db.url, "--scale", "5", cwd=tmp_path)
    shown = make_url(empty_db.url).render_as_string(hide_password=True)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"{shown}: table git_projects already has rows; demo data needs "
                             "empty tables\n")


@pytest.mark.parametrize(("url", "reason"), [
    ("sqlite+aiosqlite:///./no/such/folder/demo.db", "unable to open database file"),
    (other_database(PG_SERVER, "crud_no_such_db"), 'database "crud_no_such_db" does not exist'),
    (other_database(MARIADB_SERVER, "crud_no_such_db"), "(1049, \"Unknown database 'crud_no_such_db'\")"),
    ("postgresql+asyncpg://postgres:pw@127.0.0.1:1/x", "[Errno 111] Connect call failed ('127.0.0.1', 1)"),
    ("not a url", "Could not parse SQLAlchemy URL from given URL string"),
], ids=["sqlite-folder", "postgresql-database", "mariadb-database", "refused", "garbage"])
def test_demo_data_without_a_database_is_one_line(url: str, reason: str, tmp_path: Path) -> None:
    result = crud("demo-data", "--database-url", url, cwd=tmp_path)
    shown = repr(url) if url == "not a url" else make_url(url).render_as_string(hide_password=True)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{shown}: {reason} {HINT}\n"
    assert "pw@" not in result.stderr


def test_serve_without_a_registry_creates_nothing(tmp_path: Path) -> None:
    result = crud("serve", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "registry.yaml: file: not found (pass --registry or set CRUD_REGISTRY)"]
    assert list(tmp_path.iterdir()) == []


def test_serve_with_a_broken_registry_creates_no_demo_database(tmp_path: Path) -> None:
    text = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    (tmp_path / "registry.yaml").write_text(text.replace("status:", "statuz:", 1), encoding="utf-8")
    result = crud("serve", cwd=tmp_path)
    assert result.returncode == 1
    assert "resources.koji-builds" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["registry.yaml"]


@pytest.mark.parametrize(("env", "expected"), [
    ({"CRUD_PORT": "eighty"}, "settings: CRUD_PORT (--port): Input should be a valid integer, "
                              "unable to parse string as an integer (got 'eighty')"),
    ({"CRUD_WORKERS": "0"}, "settings: CRUD_WORKERS (--workers): Input should be greater than or "
                            "equal to 1 (got '0')"),
    ({"CRUD_PUBLIC_URL": "api.example.org"},
     "settings: CRUD_PUBLIC_URL: Value error, 'api.example.org' is not an absolute http(s) URL "
     "(e.g. https://api.example.org) (got 'api.example.org')"),
], ids=["port", "workers", "public-url"])
def test_a_bad_setting_is_one_line_naming_the_variable(env: dict[str, str], expected: str,
                                                       tmp_path: Path) -> None:
    result = crud("check", "--registry", str(ROOT / "registry.yaml"), cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (1, expected + "\n")


def test_check_against_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/x"
    result = crud("check", "--registry", str(ROOT / "registry.yaml"), "--database-url", url,
                  cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{url}: [Errno 111] Connect call failed ('127.0.0.1', 1) {HINT}\n"
