"""The typed TypeScript client: ``crud openapi`` → openapi-typescript → ``tsc --strict``.

The versions are pinned in tests/client/package-lock.json (openapi-typescript 7.13.0 with
TypeScript 5.9.3, its supported major; openapi-fetch 0.17.0). tests/client/list-builds.mts
is what a dashboard writes: it must compile strict against the generated types, with
``@ts-expect-error`` lines that only hold while the types are precise, and then return the
same rows as the API over a real socket.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Database
from node_tools import CLIENT, bin_path, node_modules
from served import served
from test_reflection import REGISTRY as LEGACY_REGISTRY
from test_reflection import create_schema

# openapi-typescript's index signature for headers a response may carry beyond the
# documented ones; anywhere else `unknown` means an untyped field.
HEADER_INDEX = "[name: string]: unknown;"


def _crud_openapi(registry: Path, database_url: str, output: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from crud.cli import main; main()", "openapi",
         "--registry", str(registry), "--database-url", database_url, "-o", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def _generate(workdir: Path, registry: Path, database_url: str) -> str:
    """The generated ``api.d.ts`` in ``workdir``, beside the compiler's node_modules."""
    (workdir / "node_modules").symlink_to(node_modules(), target_is_directory=True)
    _crud_openapi(registry, database_url, workdir / "openapi.json")
    result = subprocess.run([bin_path("openapi-typescript"), "openapi.json", "-o", "api.d.ts"],
                            cwd=workdir, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    return (workdir / "api.d.ts").read_text(encoding="utf-8")


def _tsc(workdir: Path, *arguments: str) -> None:
    result = subprocess.run([bin_path("tsc"), *arguments], cwd=workdir, capture_output=True,
                            text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _untyped(declarations: str) -> list[str]:
    return [line.strip() for line in declarations.splitlines()
            if re.search(r"\bunknown\b", line) and line.strip() != HEADER_INDEX]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_the_list_call_compiles_strict_and_returns_what_the_api_does(
        demo_db: Database, tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"  # the spec reads no table
    declarations = _generate(tmp_path, ROOT / "registry.yaml", empty)
    assert _untyped(declarations) == []
    for name in ("tsconfig.json", "list-builds.mts"):
        shutil.copy(CLIENT / name, tmp_path / name)
    _tsc(tmp_path, "-p", "tsconfig.json")
    with served(ROOT / "registry.yaml", demo_db.url, tmp_path) as server:
        run = subprocess.run(["node", "dist/list-builds.mjs", server.url()], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=False)
        expected = httpx.get(server.url() + "/api/v1/koji-builds", timeout=10, params={
            "status__in": "failure,error", "order_by": "-packit_id", "size": 3}).json()
        copr = httpx.get(server.url() + "/api/v1/copr-builds", timeout=10,
                         params={"status": "success", "size": 1}).json()
    assert run.returncode == 0, run.stderr
    package = copr["items"][0]["built_packages"][0]
    assert json.loads(run.stdout) == {
        "failures": [[item["packit_id"], item["status"]] for item in expected["items"]],
        "package": {"name": package["name"], "epoch": package["epoch"]},
    }
    assert len(expected["items"]) == 3


def test_the_readme_client_lines_compile_strict(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Dashboard\n.*?```ts\n(.*?)```", text, re.S)
    assert match, "README.md lost its Dashboard TypeScript example"
    _generate(tmp_path, ROOT / "registry.yaml", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    # The README imports "./api" as a bundler resolves it; Node's ESM wants the extension.
    example = match.group(1).replace('from "./api";', 'from "./api.js";')
    (tmp_path / "example.mts").write_text(example + "export {};\n", encoding="utf-8")
    _tsc(tmp_path, "--strict", "--noEmit", "--target", "es2022", "--lib", "es2022,dom",
         "--module", "nodenext", "--moduleResolution", "nodenext", "example.mts")


@pytest.mark.parametrize("empty_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_a_legacy_schema_gives_a_client_that_compiles_strict(
        empty_db: Database, tmp_path: Path) -> None:
    # PascalCase and quoted names, composite keys, a view, columns named like Python
    # attributes (copy, model_config) and SQL words (from, group): tests/test_reflection.py.
    await create_schema(empty_db)
    registry = tmp_path / "registry.yaml"
    registry.write_text(LEGACY_REGISTRY, encoding="utf-8")
    declarations = _generate(tmp_path, registry, empty_db.url)
    assert _untyped(declarations) == []
    assert '"Unit Price"' not in declarations  # exposed as `price`, as the registry says
    _tsc(tmp_path, "--strict", "--noEmit", "--skipLibCheck", "false", "api.d.ts")
