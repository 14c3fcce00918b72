"""A registry whose tables are missing: ``crud serve`` refuses, ``/readyz`` is not ready.

The models bind without a database, so nothing but the database itself can say that the
tables were never created. Real servers, a real ``crud serve`` process.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database
from sqlalchemy.engine import make_url
from test_cli import crud
from test_health import with_tables

from crud.ops.tables import TableCheck

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
"""
BACKENDS = ["sqlite", "postgresql", "mariadb"]


def _missing_lines(path: Path) -> list[str]:
    hint = "is not in the database (create it, or check --database-url)"
    return [f"{path}:2: resources.koji-builds: table 'koji_build_targets' {hint}",
            f"{path}:5: resources.projects: table 'git_projects' {hint}",
            "2 problem(s) in the registry."]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "check"])
@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
def test_serve_and_check_refuse_a_database_without_the_tables(
        empty_db: Database, command: str, tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    more = ["--port", str(_free_port())] if command == "serve" else []
    if empty_db.backend == "sqlite":  # an empty database file (an absent one is refused first)
        Path(str(make_url(empty_db.url).database)).touch()
    result = crud(command, "--registry", str(path), "--database-url", empty_db.url, *more,
                  cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == _missing_lines(path)


def test_serve_creates_no_sqlite_file_while_checking(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    result = crud("serve", "--registry", str(path), "--database-url",
                  f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}", cwd=tmp_path)
    assert result.stderr.splitlines() == [
        f"sqlite+aiosqlite:///{tmp_path / 'absent.db'}: no SQLite database at "
        f"{tmp_path / 'absent.db'} (check --database-url or DATABASE_URL)"]
    assert sorted(item.name for item in tmp_path.iterdir()) == ["registry.yaml"]


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
async def test_readyz_is_503_until_the_tables_exist(
        make_api: Callable[..., Any], empty_db: Database, caplog: pytest.LogCaptureFixture) -> None:
    api: Api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    with caplog.at_level(logging.WARNING, logger="crud.ops.health"):
        before = await api.get("/readyz", headers={"X-Request-ID": "t-1"})
    await with_tables(empty_db)
    after = await api.get("/readyz")
    assert before.status_code == 503
    assert before.json() == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503,
        "detail": "The database lacks the tables of 2 resource(s); the server log names them.",
        "instance": "/readyz", "code": "service_unavailable", "request_id": "t-1"}
    assert before.headers["cache-control"] == "no-store"
    assert [r.getMessage() for r in caplog.records if r.name == "crud.ops.health"] == [
        "readiness check failed: resources.koji-builds: no table 'koji_build_targets'; "
        "resources.projects: no table 'git_projects'"]
    assert (after.status_code, after.json()) == (200, {"status": "ready"})


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
async def test_readyz_looks_for_the_tables_once_then_only_pings(
        make_api: Callable[..., Any], empty_db: Database) -> None:
    await with_tables(empty_db)
    api: Api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    assert (await api.get("/readyz")).status_code == 200
    first = list(api.log.statements)
    api.log.clear()
    assert (await api.get("/readyz")).status_code == 200
    assert (await api.get("/readyz")).status_code == 200
    assert len(first) > 1  # the catalog lookups, then SELECT 1
    assert api.log.statements == ["SELECT 1", "SELECT 1"]


def test_table_check_repr() -> None:
    assert repr(TableCheck([])) == "TableCheck(resources=0, verified=True)"
