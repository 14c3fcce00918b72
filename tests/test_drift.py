"""Schema drift is refused at startup, located, one line each (issue 25, item 6).

A model column the database lacks (a migration not applied) and a derived join whose select
the database refuses used to start and answer 500 on every list; ``crud check
--database-url`` printed a traceback for the join. Both are now one located line, from
``crud check`` and ``crud serve`` alike.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import BACKENDS, Database
from sqlalchemy import text
from test_cli import crud

from crud.sql.database import make_engine

REGISTRY = """\
resources:
  readings:
    model: bigtables_models:Reading
    joins:
      odd:
        select: "drift_selects:refused"
        on: {id: reading_id}
    fields:
      id:
      name:
      amount:
      odd: odd.odd
"""
TESTS = Path(__file__).resolve().parent


async def _drifted(database: Database) -> None:
    """bt_readings as the model has it, less the ``amount`` column."""
    from bigtables_models import Base

    writer = make_engine(database.url, read_only=False)
    async with writer.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        await connection.execute(text("ALTER TABLE bt_readings DROP COLUMN amount"))
    await writer.dispose()


def _env() -> dict[str, str]:
    return {"PYTHONPATH": f"{TESTS}:{TESTS.parent}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
@pytest.mark.parametrize("command", ["check", "serve"])
async def test_a_missing_column_and_a_refused_join_stop_startup_in_one_line_each(
        empty_db: Database, tmp_path: Path, command: str) -> None:
    await _drifted(empty_db)
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    extra = ["--port", str(_free_port())] if command == "serve" else []
    result = crud(command, "--registry", str(path), "--database-url", empty_db.url, *extra,
                  cwd=tmp_path, env=_env())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "2 problem(s) in the registry."
    assert lines[0] == (f"{path}:11: resources.readings.fields.amount: column 'amount' of table "
                        "'bt_readings' is not in the database (a migration not applied?)")
    assert lines[1].startswith(f"{path}:5: resources.readings.joins.odd: the database refuses "
                               "join 'odd': ")
    assert "crud_no_such_function" in lines[1].lower()
    assert len(lines) == 3
