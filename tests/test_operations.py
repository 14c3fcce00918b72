"""The operations wiring: documented settings, and reprs that show no secrets."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from sqlalchemy.ext.asyncio import create_async_engine

from crud.operations import Operations
from crud.registry import parse_registry
from crud.settings import Settings

# Documented by the README's "Running" section rather than by docs/operations.md.
DOCUMENTED_IN_README = {"database_url", "registry", "host", "port", "workers", "log_level",
                        "pool_size"}


def _documents() -> str:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in paths if path.exists())


@pytest.mark.parametrize("name", sorted(set(Settings.model_fields) - DOCUMENTED_IN_README))
def test_every_setting_is_documented_with_its_environment_name(name: str) -> None:
    assert Settings.model_fields[name].description, f"Settings.{name} needs a description"
    assert f"`CRUD_{name.upper()}`" in _documents()


def test_the_settings_table_names_only_real_settings() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `CRUD_([A-Z_]+)`", text, flags=re.MULTILINE))
    assert {name.lower() for name in named} <= set(Settings.model_fields)


async def test_operations_repr_counts_secrets_without_showing_them() -> None:
    registry, located = parse_registry(
        "resources:\n  r:\n    model: m:M\n    fields: {id:}\n    auth: bearer\n")
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    settings = Settings(bearer_tokens="s3cret,other", cors_origins="*")
    operations = Operations(registry, engine, settings, located=located)
    await engine.dispose()
    assert repr(operations) == (
        "Operations(metrics=True, access_log=True, cors=['*'], "
        "Credentials(api_keys=0, bearer_tokens=2))")
