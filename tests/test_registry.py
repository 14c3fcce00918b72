"""Registry loading: every problem reported at once, located, with a hint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crud.app import load
from crud.config.registry import RegistryError

ROOT = Path(__file__).resolve().parent.parent
GOOD = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
      submitted: build_submitted_time
    filters: {status: [eq, in]}
    sort: [packit_id, submitted]
"""


async def problems(path: Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        await load(path, "sqlite+aiosqlite:///:memory:")
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("submitted: build_submitted_time", "submitted: build_submited_time"),
     ["registry.yaml:7: resources.builds.fields.submitted.source: KojiBuildTargetModel has no "
      "column 'build_submited_time' (did you mean 'build_submitted_time'?)"]),
    (GOOD.replace("status: [eq, in]", "status: [eq, ilike]"),
     ["registry.yaml:8: resources.builds.filters.status.1: operator 'ilike' does not apply to enum "
      "field 'status' (valid: eq, neq, in, not_in, isnull)"]),
    (GOOD.replace("sort: [packit_id, submitted]", "sort: [packit_id, submited]"),
     ["registry.yaml:9: resources.builds.sort.1: unknown field 'submited' (did you mean 'submitted'?)"]),
    (GOOD.replace("resources.models:KojiBuildTargetModel", "resources.models:KojiBuildTarget"),
     ["registry.yaml:3: resources.builds.model: module 'resources.models' has no 'KojiBuildTarget' "
      "(did you mean 'KojiBuildTargetModel'?)"]),
    (GOOD.replace("      status:\n", "      status:\n      status: target\n"),
     ["registry.yaml:7: yaml: duplicate key 'status' (first defined on line 6)"]),
    (GOOD.replace("    sort:", "    sorting:"),
     ["registry.yaml:9: resources.builds.sorting: unknown key 'sorting'"]),
    (GOOD.replace("submitted: build_submitted_time", "submitted: group.nope.id"),
     ["registry.yaml:7: resources.builds.fields.submitted.source: KojiBuildGroupModel has no "
      "relationship 'nope' (valid: builds, project_event, runs)"]),
    (GOOD.replace("      status:\n", "      status: {json_schema: {type: string}}\n"),
     ["registry.yaml:6: resources.builds.fields.status.json_schema: 'json_schema:' describes "
      "JSON values; column 'status' of KojiBuildTargetModel is enum, which has its own schema"]),
    (GOOD.replace("      status:\n", "      status: {fields: {id:}, json_schema: {}}\n"),
     ["registry.yaml:6: resources.builds.fields.status.json_schema: 'json_schema:' describes a "
      "JSON column's values; an object's schema is its fields"]),
    (GOOD.replace("      status:\n", "      status: {json_schema: [string]}\n"),
     ["registry.yaml:6: resources.builds.fields.status.json_schema: Input should be a valid "
      "dictionary"]),
], ids=["misspelt-column", "operator-type", "sort-key", "model", "duplicate-key", "unknown-key",
        "path-step", "json-schema-on-a-column", "json-schema-on-an-object", "json-schema-shape"])
async def test_registry_mistakes_are_located_with_hints(registry_path: Any, text: str,
                                                        expected: list[str]) -> None:
    path = registry_path(text)
    found = await problems(path)
    assert [line.replace(str(path), "registry.yaml") for line in found] == expected


async def test_all_problems_are_reported_at_once(registry_path: Any) -> None:
    text = GOOD.replace("build_submitted_time", "nope").replace("[eq, in]", "[eq, like]")
    found = await problems(registry_path(text))
    # The bad column and 'like' on an enum; the sort key naming the broken field is not
    # reported a second time.
    assert len(found) == 2


async def test_check_command_prints_file_line_and_hint(registry_path: Any) -> None:
    path = registry_path(GOOD.replace("build_submitted_time", "build_submited_time"))
    result = subprocess.run(
        [sys.executable, "-m", "crud.cli", "check", "--registry", str(path),
         "--database-url", "sqlite+aiosqlite:///:memory:"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert f"{path}:7: resources.builds.fields.submitted.source" in result.stderr
    assert "did you mean 'build_submitted_time'?" in result.stderr


def test_check_command_accepts_the_demo_registry() -> None:
    result = subprocess.run([sys.executable, "-m", "crud.cli", "check"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "registry.yaml: OK" in result.stdout


def test_check_command_reports_tables_missing_from_the_database() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crud.cli", "check", "--database-url", "sqlite+aiosqlite:///:memory:"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert "resources.koji-builds: table 'koji_build_targets' is not in the database" in result.stderr
    assert "Traceback" not in result.stderr


async def test_primary_key_must_be_exposed(registry_path: Any) -> None:
    found = await problems(registry_path(GOOD.replace("      packit_id: id\n", "")
                                         .replace("packit_id, ", "")))
    assert any("primary key column 'id' must be exposed" in line for line in found)
