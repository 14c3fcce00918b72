"""Hand-written routers sit beside the generated ones: same prefix, same OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database

from crud.app import load
from crud.config.registry import RegistryError

REGISTRY = """
api:
  prefix: /api/v1
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
    filters: {status: [eq]}
routers:
  - "usage_router:router"
"""


@pytest.fixture
async def usage_api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return api


async def test_aggregation_counts_agree_with_the_generated_list(usage_api: Api) -> None:
    response = await usage_api.get("/api/v1/usage/koji-builds-per-status")
    assert response.status_code == 200
    counts = response.json()
    assert [row["status"] for row in counts] == sorted(row["status"] for row in counts)
    for row in counts:
        listed = await usage_api.get("/api/v1/koji-builds",
                                     params={"status": row["status"], "size": 1})
        assert listed.json()["total"] == row["builds"], row["status"]
    assert sum(row["builds"] for row in counts) == 300


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_hand_written_route_is_in_the_same_openapi_document(usage_api: Api) -> None:
    document = (await usage_api.get("/openapi.json")).json()
    assert set(document["paths"]) == {"/api/v1/koji-builds", "/api/v1/koji-builds/{id}",
                                      "/api/v1/usage/koji-builds-per-status",
                                      "/healthz", "/readyz", "/metrics"}
    operation = document["paths"]["/api/v1/usage/koji-builds-per-status"]["get"]
    assert operation["tags"] == ["usage"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/StatusCount"},
        "title": "Response Koji Builds Per Status"}


BAD_ROUTERS = {
    "not-a-router": ('"usage_router:not_a_router"',
                     "routers.0: 'usage_router:not_a_router' is a dict, expected a "
                     "fastapi.APIRouter"),
    "missing-attribute": ('"usage_router:routr"',
                          "routers.0: module 'usage_router' has no 'routr' "
                          "(did you mean 'router'?)"),
}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(BAD_ROUTERS), ids=list(BAD_ROUTERS))
async def test_bad_router_reference_is_a_located_registry_error(
        demo_db: Database, registry_path: Callable[[str], Path], name: str) -> None:
    reference, message = BAD_ROUTERS[name]
    path = registry_path(REGISTRY.replace('"usage_router:router"', reference))
    with pytest.raises(RegistryError) as caught:
        await load(path, demo_db.url)
    assert [str(issue) for issue in caught.value.issues] == [f"{path}:10: {message}"]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_hand_written_routes_answer_under_the_api_wide_auth(
        demo_db: Database, make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUD_API_KEYS", "k-1")
    api: Api = await make_api(REGISTRY.replace("prefix: /api/v1", "prefix: /api/v1\n  auth: api_key"),
                              demo_db.url, demo_db.backend)
    anonymous = await api.get("/api/v1/usage/koji-builds-per-status")
    keyed = await api.get("/api/v1/usage/koji-builds-per-status", headers={"X-API-Key": "k-1"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert keyed.status_code == 200
