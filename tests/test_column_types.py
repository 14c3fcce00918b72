"""Column types the sample databases showed failing (issue 25, item 5).

MariaDB's SET is served as the database's own text (members in declaration order, '' for
none) in JSON, CSV and NDJSON alike, and ``crud init`` writes it as a field; a YEAR it
leaves out with the hint that ``type: integer`` serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import Database
from sqlalchemy import text
from test_cli import crud

from crud.sql.database import make_engine

TABLES = {
    "mariadb": ["CREATE TABLE ct (id INT PRIMARY KEY, tags SET('b','a','c') NOT NULL, "
                "yr YEAR, code VARCHAR(5))",
                "INSERT INTO ct VALUES (1, 'a,b', 2024, 'ab'), (2, '', 1999, 'x')"],
}
REGISTRY = ("resources:\n  ct:\n    table: ct\n    fields:\n      id:\n      code:\n"
            "      tags:\n    filters: {code: [eq], tags: [eq]}\n")


async def _load(database: Database) -> None:
    writer = make_engine(database.url, read_only=False)
    async with writer.begin() as connection:
        for statement in TABLES[database.backend]:
            await connection.execute(text(statement))
    await writer.dispose()


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_a_set_column_is_served_as_its_text_in_every_format(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    await _load(empty_db)
    api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    expected = [{"id": 1, "code": "ab", "tags": "b,a"}, {"id": 2, "code": "x", "tags": ""}]
    listed = await api.get("/api/v1/ct")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == expected
    detail = await api.get("/api/v1/ct/1")
    assert detail.json() == expected[0]
    filtered = await api.get("/api/v1/ct", params={"code": "ab"})
    assert filtered.json()["items"] == expected[:1]
    ndjson = await api.get("/api/v1/ct", params={"format": "ndjson"})
    assert ndjson.status_code == 200, ndjson.text
    assert [orjson.loads(line) for line in ndjson.text.splitlines()] == expected
    csv = await api.get("/api/v1/ct", params={"format": "csv"})
    rows = csv.text.splitlines()
    assert rows[0].split(",")[:2] == ["id", "code"]
    assert rows[1].startswith("1,ab")
    assert rows[1:] == ['1,ab,"b,a"', "2,x,"]
    by_set = await api.get("/api/v1/ct", params={"tags": "b,a"})
    assert by_set.json()["items"] == expected[:1]


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_crud_init_serves_set_and_hints_year(empty_db: Database, tmp_path: Path) -> None:
    await _load(empty_db)
    output = tmp_path / "registry.yaml"
    result = crud("init", "--database-url", empty_db.url, "-o", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = output.read_text(encoding="utf-8")
    field_lines = [line.strip() for line in written.splitlines()
                   if line.strip().lstrip("# ").startswith(("tags", "yr"))]
    assert field_lines[0].startswith("tags:")
    assert field_lines[1].startswith("# yr:")
    assert "serve it with 'type: integer'" in field_lines[1]
