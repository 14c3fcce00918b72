"""Serving the ``bt_readings`` table (tests/bigtables_models.py) under a test registry."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from conftest import Api, Database
from sqlalchemy import event

__all__ = ["READINGS", "all_pages", "registry", "serve"]

READINGS = "/api/v1/readings"

_FIELDS = """\
      id:
      name:
      score:
      taken_at:
      level:
      amount:
      shelf_label: shelf.label
      doubled: {source: {expression: "bigtables_models:doubled"}}
"""


def registry(resource: str = "", api: str = "", *, slow: str = "") -> str:
    """A registry with ``readings`` (plus ``resource`` keys) and, given ``slow``, a second
    resource ``slow-readings`` whose ``slow`` field sleeps per row (``slow_20ms``...)."""
    text = f"""\
api:
  page_size: 7
  max_page_size: 20
{api}
resources:
  readings:
    model: bigtables_models:Reading
    fields:
{_FIELDS}    filters: {{name: [eq], score: [gte]}}
    sort: [name, score, taken_at, level, amount, shelf_label, doubled]
    default_sort: [id]
{resource}
"""
    if slow:
        text += f"""\
  slow-readings:
    model: bigtables_models:Reading
    fields:
      id:
      slow: {{source: {{expression: "bigtables_models:{slow}"}}}}
    filters: {{slow: [eq]}}
{resource}
"""
    return text


async def serve(make_api: Callable[..., Any], database: Database, text: str) -> Api:
    api: Api = await make_api(text, database.url, database.backend)
    if database.backend == "sqlite":
        @event.listens_for(api.engine.sync_engine, "connect")
        def _sleep_function(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.create_function("crud_test_sleep", 1, _sleep_ms)
    return api


def _sleep_ms(ms: int) -> int:
    time.sleep(ms / 1000)
    return 0


async def all_pages(api: Api, path: str, params: dict[str, Any]) -> list[httpx.Response]:
    """Every page of a list, following ``next`` cursors from the first page."""
    responses = [await api.get(path, params=params)]
    while responses[-1].json()["next"] is not None:
        assert len(responses) < 100, "the cursor walk does not end"
        cursor = responses[-1].json()["next"]
        responses.append(await api.get(path, params={**params, "cursor": cursor}))
    return responses
