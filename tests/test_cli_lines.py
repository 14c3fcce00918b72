"""The first minutes with one's own code: habitual URLs, one's own modules, no stray files.

Every ``crud`` command that fails says why in exactly one line on stderr and exits 1, for
any URL a user may type (sync drivers included), a missing file or an unreachable server.
Real processes, real servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Database
from sqlalchemy.engine import make_url
from test_cli import crud

from crud.config.settings import async_database_url

REGISTRY = str(ROOT / "registry.yaml")
COMMANDS = {  # each command with what it needs besides the URL
    "check": ["check", "--registry", REGISTRY],
    "openapi": ["openapi", "--registry", REGISTRY],
    "serve": ["serve", "--registry", REGISTRY, "--port", "1"],  # never reached: it fails first
    "init": ["init", "--output", "starter.yaml"],
    "demo-data": ["demo-data", "--scale", "3"],
}
UNSUPPORTED = ("settings: CRUD_DATABASE_URL: Value error, mssql:// is not a database this API "
               "runs on; use sqlite://, postgresql:// or mysql:// (mariadb://) "
               "(got 'mssql://db/x')")
HINT = "(check --database-url or DATABASE_URL)"


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:///./app.db", "sqlite+aiosqlite:///./app.db"),
    ("sqlite+pysqlite:///app.db", "sqlite+aiosqlite:///app.db"),
    ("postgresql://u:p@h/db?ssl=require", "postgresql+asyncpg://u:p@h/db?ssl=require"),
    ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("mysql://root@h/db", "mysql+aiomysql://root@h/db"),
    ("mysql+pymysql://root@h/db", "mysql+aiomysql://root@h/db"),
    ("mariadb://root@h/db", "mysql+aiomysql://root@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("mariadb+aiomysql://root@h/db", "mariadb+aiomysql://root@h/db"),
])
def test_a_sync_url_gets_the_async_driver(url: str, expected: str) -> None:
    assert async_database_url(url) == expected


def _sync_forms(url: str) -> list[str]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return [f"sqlite:///{parsed.database}"]
    if parsed.get_backend_name() == "postgresql":
        return [str(parsed.set(drivername=name)) for name in
                ("postgresql", "postgres", "postgresql+psycopg2")]
    return [str(parsed.set(drivername=name)) for name in ("mysql", "mariadb", "mysql+pymysql")]


def test_check_takes_the_sync_urls_users_have(demo_db: Database, tmp_path: Path) -> None:
    for url in _sync_forms(demo_db.url):
        result = crud("check", "--registry", REGISTRY, "--database-url", url, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (0, ""), url
        assert result.stdout.startswith(f"{REGISTRY}: OK (")


def test_serve_reads_a_sync_database_url_from_the_environment(demo_db: Database,
                                                              tmp_path: Path) -> None:
    from served import served

    url = _sync_forms(demo_db.url)[0]
    with served(Path(REGISTRY), url, tmp_path) as server:
        assert httpx.get(f"{server.base}/api/v1/koji-builds?size=1").status_code == 200


FAILURES = [  # (command, arguments, the one line it prints)
    *[(name, ["--database-url", "mssql://db/x"], UNSUPPORTED) for name in COMMANDS],
    *[(name, ["--database-url", "not a url"],
       f"'not a url': Could not parse SQLAlchemy URL from given URL string {HINT}")
      for name in COMMANDS],
    *[(name, ["--database-url", "sqlite:///./nowhere/app.db"],
       f"sqlite+aiosqlite:///./nowhere/app.db: no SQLite database at ./nowhere/app.db {HINT}")
      for name in ("check", "serve")],
    ("init", ["--database-url", "sqlite:///./nowhere/app.db"],
     "crud init: no SQLite database at ./nowhere/app.db (check --database-url)"),
    ("demo-data", ["--database-url", "sqlite:///./nowhere/app.db"],
     f"sqlite+aiosqlite:///./nowhere/app.db: unable to open database file {HINT}"),
    *[(name, ["--database-url", "postgresql://postgres@127.0.0.1:1/x"],
       f"{prefix}postgresql+asyncpg://postgres@127.0.0.1:1/x: [Errno 111] Connect call failed "
       f"('127.0.0.1', 1) {HINT}")
      for name, prefix in (("check", ""), ("init", "crud init: cannot reflect "),
                           ("demo-data", ""))],
    *[(name, ["--database-url", "mysql://root@127.0.0.1:3306/crud_no_such_db"],
       f"{prefix}mysql+aiomysql://root@127.0.0.1:3306/crud_no_such_db: (1049, \"Unknown "
       f"database 'crud_no_such_db'\") {HINT}")
      for name, prefix in (("check", ""), ("init", "crud init: cannot reflect "),
                           ("demo-data", ""))],
    *[(name, ["--registry", "missing.yaml"],
       "missing.yaml: file: not found (pass --registry or set CRUD_REGISTRY)")
      for name in ("check", "openapi", "serve")],
]


@pytest.mark.parametrize(("command", "arguments", "line"), FAILURES,
                         ids=[f"{command}-{' '.join(arguments)}" for command, arguments, _ in
                              FAILURES])
def test_every_command_fails_in_one_line(command: str, arguments: list[str], line: str,
                                         tmp_path: Path) -> None:
    base = COMMANDS[command]
    if "--registry" in arguments:
        base = [base[0], *base[3:]]
    result = crud(*base, *arguments, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, line + "\n")
    assert list(tmp_path.iterdir()) == []  # nothing created, not even an empty SQLite file


def test_serve_with_ones_own_registry_creates_no_demo_database(tmp_path: Path) -> None:
    text = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    (tmp_path / "registry.yaml").write_text(text.replace("  demo: true", "  demo: false"),
                                            encoding="utf-8")
    result = crud("serve", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("registry.yaml: no database given: pass --database-url URL or set "
                             "DATABASE_URL (a demo database is created only for a registry "
                             "with 'api: {demo: true}')\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["registry.yaml"]


def test_check_of_a_reflected_registry_without_a_database_creates_nothing(
        tmp_path: Path) -> None:
    (tmp_path / "registry.yaml").write_text(
        "resources:\n  notes:\n    table: notes\n    fields: {id:}\n", encoding="utf-8")
    result = crud("check", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("registry.yaml: no database given: pass --database-url")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["registry.yaml"]


@pytest.mark.parametrize("more", [[], ["--database-url", "sqlite:///./nowhere/app.db"]],
                         ids=["no-url", "absent-sqlite-file"])
def test_openapi_of_models_needs_no_database_and_prints_no_warning(more: list[str],
                                                                   tmp_path: Path) -> None:
    result = crud("openapi", "--registry", REGISTRY, *more, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("{")
    assert list(tmp_path.iterdir()) == []


MODELS = '''
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(50))


def short_title(table):
    return table.c.title
'''
OWN_REGISTRY = """\
resources:
  notes:
    model: models:Note
    fields:
      id: id
      title: title
      short: {source: {expression: "models:short_title"}}
"""


def test_ones_own_modules_import_from_the_current_folder(tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text(MODELS, encoding="utf-8")
    (tmp_path / "registry.yaml").write_text(OWN_REGISTRY, encoding="utf-8")
    # The installed console script, as a user runs it: no PYTHONPATH, no `python -m`.
    script = Path(sys.executable).parent / "crud"
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "DATABASE_URL") and not key.startswith("CRUD_")}
    result = subprocess.run([str(script), "check"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "registry.yaml: OK (1 resources: notes)\n"
