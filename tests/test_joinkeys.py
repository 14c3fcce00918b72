"""``crud check --database-url`` holds derived joins to at most one row per key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import ROOT, Database
from typer.testing import CliRunner

from crud.cli import cli

TWICE = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    joins:
      grp:
        select: "derived_selects:groups_twice"
        on: {koji_build_group_id: group_id}
    fields:
      id:
      submitted: grp.submitted
"""


def _check(path: Path, database: Database) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", "--registry", str(path), "--database-url",
                                      database.url, "--large-table-rows", "1000000000"])
    return result.exit_code, result.stdout, result.stderr


def test_a_select_with_two_rows_for_a_key_fails_the_check(
        demo_db: Database, registry_path: Callable[[str], Path]) -> None:
    path = registry_path(TWICE)
    code, out, err = _check(path, demo_db)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}:6: resources.builds.joins.grp.select: the select has "
                               "several rows for group_id=")
    assert lines[0].endswith(": a join needs at most one per key, or rows of builds repeat "
                             "(aggregate, or key it by more columns)")
    assert lines[1:] == []  # one problem, one line


def test_the_demo_registrys_joins_keep_their_promise(demo_db: Database) -> None:
    code, out, err = _check(ROOT / "registry.yaml", demo_db)
    assert (code, err) == (0, "")
    assert out.startswith(f"{ROOT / 'registry.yaml'}: OK (7 resources:")
