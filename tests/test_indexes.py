"""``crud check`` index advice: sort and filter columns that no index leads, on big tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bigtables_models import ROWS
from conftest import Database
from readings import registry
from typer.testing import CliRunner

from crud.app import load
from crud.cli import cli
from crud.config.registry import load_registry
from crud.sql.indexes import index_advice


async def test_unindexed_sort_and_filter_fields_are_reported(
        readings_db: Database, registry_path: Callable[[str], Path]) -> None:
    path = registry_path(registry())
    loaded = await load(path, readings_db.url)
    located = load_registry(path)[1]
    advice = await index_advice(loaded.resources, readings_db.url, path="registry.yaml",
                                located=located, min_rows=10)
    if readings_db.backend == "mariadb":  # InnoDB's TABLE_ROWS is a sampled estimate
        assert all(item.table == "bt_readings" for item in advice)
        return
    assert [(item.key, item.field, item.rows) for item in advice] == [
        ("resources.readings.sort.0", "name", ROWS),
        ("resources.readings.sort.1", "score", ROWS),
        ("resources.readings.sort.2", "taken_at", ROWS),
        ("resources.readings.sort.3", "level", ROWS),
        ("resources.readings.sort.4", "amount", ROWS),
        ("resources.readings.filters.name", "name", ROWS),
        ("resources.readings.filters.score", "score", ROWS),
    ]
    assert str(advice[0]) == (
        "registry.yaml:18: resources.readings.sort.0: 'name' reads bt_readings.name, which no "
        "index leads (~61 rows): its pages will scan the table "
        "(hint: CREATE INDEX ON bt_readings (name, id))")
    assert advice[-1].index == ("score",)


def test_check_prints_advice_as_warnings(readings_db: Database,
                                         registry_path: Callable[[str], Path]) -> None:
    path = registry_path(registry())
    result = CliRunner().invoke(cli, ["check", "--registry", str(path), "--database-url",
                                      readings_db.url, "--large-table-rows", "10"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK (1 resources: readings)\n"
    warnings = result.stderr.splitlines()
    assert warnings or readings_db.backend == "mariadb"  # InnoDB's row count is an estimate
    assert all(line.startswith(f"warning: {path}:") for line in warnings)
