"""An absent to-one relation is ``null``, not an object of nulls (tests/grouped_models.py).

"Absent" is decided by the related row's key (a derived join's ``on`` column): an SRPM
that exists with every column NULL is an object of nulls, a build without one is null.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from conftest import Api, Database
from grouped_models import rows

REGISTRY = """\
api:
  max_page_size: 100
resources:
  builds:
    model: grouped_models:Build
    profile: {profile}
    joins:
      info: {{select: "grouped_models:srpm_info", on: {{srpm_id: srpm_key}}}}
    fields:
      id:
      chroot:
      srpm: {{source: srpm, fields: {{id:, status:}}}}
      info: {{source: info, fields: {{status: srpm_status}}}}
      plain: {{fields: {{owner:}}}}
    filters: {{chroot: [eq]}}
    sort: [id]
    default_sort: [id]
    embed:
      linked: {{source: srpm, fields: {{url:}}}}
"""
PROFILES = ["standard", "legacy", "react-admin", "json-server"]


def _expected() -> list[dict[str, Any]]:
    srpms = {srpm["id"]: srpm for srpm in rows()[0]}
    expected = []
    for build in rows()[1]:
        srpm = srpms.get(build["srpm_id"])
        expected.append({
            "id": build["id"], "chroot": build["chroot"],
            "srpm": None if srpm is None else {"id": srpm["id"], "status": srpm["status"]},
            "info": None if srpm is None else {"status": srpm["status"]},
            "plain": {"owner": build["owner"]},
        })
    return expected


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    for key in ("items", "data", "results"):
        if key in body:
            items: list[dict[str, Any]] = body[key]
            return items
    raise AssertionError(f"no items in {body}")


async def _serve(make_api: Callable[..., Any], database: Database, profile: str) -> Api:
    api: Api = await make_api(REGISTRY.format(profile=profile), database.url, database.backend)
    return api


@pytest.mark.parametrize("profile", PROFILES)
async def test_an_absent_relation_is_null_in_every_profile(
        grouped_db: Database, make_api: Callable[..., Any], profile: str) -> None:
    api = await _serve(make_api, grouped_db, profile)
    params = {"size": 100} if profile == "standard" else {}
    response = await api.get("/api/v1/builds", params=params)
    assert response.status_code in (200, 206), response.text  # legacy: a partial range
    expected = _expected()
    items = _items(response.json())
    assert items == expected[:len(items)]
    assert len(items) >= 10
    # Both cases are on the page: no row, and a row whose columns are all NULL.
    assert any(item["srpm"] is None for item in items)
    assert {"id": 2, "status": None} in [item["srpm"] for item in items]


@pytest.mark.parametrize("profile", PROFILES)
async def test_an_absent_relation_is_null_in_a_detail(
        grouped_db: Database, make_api: Callable[..., Any], profile: str) -> None:
    api = await _serve(make_api, grouped_db, profile)
    expected = {item["id"]: item for item in _expected()}
    for build_id in (7, 1, 3):  # no SRPM, SRPM 1, SRPM 2 (all NULL)
        response = await api.get(f"/api/v1/builds/{build_id}")
        assert response.status_code == 200, response.text
        assert response.json() == expected[build_id]


async def test_fields_and_embeds_keep_the_null(grouped_db: Database,
                                               make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db, "standard")
    response = await api.get("/api/v1/builds", params={"fields": "id,srpm.status",
                                                       "embed": "linked", "size": 4})
    srpms = {srpm["id"]: srpm for srpm in rows()[0]}
    expected = []
    for build in rows()[1][:4]:
        srpm = srpms.get(build["srpm_id"])
        expected.append({"id": build["id"],
                         "srpm": None if srpm is None else {"status": srpm["status"]},
                         "linked": None if srpm is None else {"url": srpm["url"]}})
    assert response.json()["items"] == expected


async def test_an_absent_relation_is_null_in_exports(grouped_db: Database,
                                                     make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db, "standard")
    ndjson = await api.get("/api/v1/builds", params={"format": "ndjson"})
    assert [orjson.loads(line) for line in ndjson.text.splitlines()] == _expected()
    text = (await api.get("/api/v1/builds", params={"format": "csv"})).text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["id", "chroot", "srpm.id", "srpm.status", "info.status", "plain.owner"]
    assert table[7] == ["7", "fedora-40-x86_64", "", "", "", "other"]  # no SRPM
    assert table[3] == ["3", "fedora-40-x86_64", "2", "", "", "other"]  # SRPM 2, all NULL


async def test_a_statement_per_page_still(grouped_db: Database,
                                          make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db, "standard")
    api.log.clear()
    await api.get("/api/v1/builds", params={"size": 10})
    assert api.log.count == 1


async def test_openapi_says_a_relation_may_be_null(grouped_db: Database,
                                                   make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db, "standard")
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    properties = schemas["Build"]["properties"]
    assert properties["srpm"]["anyOf"] == [{"$ref": "#/components/schemas/BuildSrpm"},
                                           {"type": "null"}]
    assert properties["info"]["anyOf"] == [{"$ref": "#/components/schemas/BuildInfo"},
                                           {"type": "null"}]
    assert properties["plain"] == {"$ref": "#/components/schemas/BuildPlain"}
