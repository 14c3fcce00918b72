"""Mounted apps: the old Flask API at /api answers beside the generated routes at /api/v1."""

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
    default_sort: [packit_id]
mounts:
  - {path: /api, wsgi: "legacy_flask:app"}
  - {path: /old-asgi, asgi: "legacy_asgi:app"}
"""

pytestmark = pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)


@pytest.fixture
async def mounted_api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return api


async def test_one_app_serves_flask_at_api_and_generated_routes_at_api_v1(
        mounted_api: Api) -> None:
    old = await mounted_api.get("/api/usage/builds", params={"days": "7"})
    new = await mounted_api.get("/api/v1/koji-builds", params={"size": 2})
    assert old.status_code == 200
    assert old.json() == {"served_by": "flask", "what": "builds", "script_root": "/api",
                          "path": "/usage/builds", "query": "days=7"}
    assert new.status_code == 200
    assert new.json()["items"] == [{"packit_id": 1, "status": "failure"},
                                   {"packit_id": 2, "status": "pending"}]


async def test_generated_route_wins_over_the_same_path_in_the_mounted_app(
        mounted_api: Api) -> None:
    response = await mounted_api.get("/api/v1/koji-builds", params={"size": 1})
    assert response.headers["content-range"] == "koji-builds 0-0/300"
    assert "served_by" not in response.json()


async def test_unclaimed_path_under_the_new_prefix_falls_through_to_the_mount(
        mounted_api: Api) -> None:
    response = await mounted_api.get("/api/v1/not-generated")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")  # Flask's own 404


async def test_asgi_mount_gets_its_root_path(mounted_api: Api) -> None:
    response = await mounted_api.get("/old-asgi/some/where")
    assert response.json() == {"served_by": "asgi", "root_path": "/old-asgi",
                               "path": "/old-asgi/some/where"}


async def test_path_no_mount_claims_is_the_apis_problem_404(mounted_api: Api) -> None:
    response = await mounted_api.get("/elsewhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "No resource at this path."


async def test_docs_and_openapi_stay_with_the_new_api(mounted_api: Api) -> None:
    document = (await mounted_api.get("/openapi.json")).json()
    # Routes are registered most specific first (crud.http.pathroutes' rank): the detail
    # before the list, so a greedy template never shadows a longer one.
    assert list(document["paths"]) == ["/api/v1/koji-builds/{id}", "/api/v1/koji-builds",
                                      "/healthz", "/readyz", "/metrics"]


BAD_MOUNTS = {
    "missing-module": ('{path: /api, wsgi: "no_such_module:app"}',
                       "mounts.0.wsgi: cannot import module 'no_such_module': "
                       "No module named 'no_such_module'"),
    "missing-attribute": ('{path: /api, wsgi: "legacy_flask:ap"}',
                          "mounts.0.wsgi: module 'legacy_flask' has no 'ap' "
                          "(did you mean 'app'?)"),
    "not-callable": ('{path: /api, wsgi: "legacy_flask:__all__"}',
                     "mounts.0.wsgi: 'legacy_flask:__all__' is a list, not a WSGI application "
                     "(e.g. a Flask() instance)"),
    "no-colon": ('{path: /api, asgi: "legacy_asgi"}',
                 "mounts.0.asgi: 'legacy_asgi' is not of the form 'package.module:name'"),
    "both-kinds": ('{path: /api, wsgi: "a:b", asgi: "c:d"}',
                   "mounts.0: give exactly one of 'wsgi' or 'asgi' (module:attribute)"),
    "trailing-slash": ('{path: /api/, wsgi: "legacy_flask:app"}',
                       "mounts.0.path: must start with '/' and not end with one, e.g. /api"),
}


@pytest.mark.parametrize("name", list(BAD_MOUNTS), ids=list(BAD_MOUNTS))
async def test_bad_mount_is_a_located_registry_error(
        demo_db: Database, registry_path: Callable[[str], Path], name: str) -> None:
    mount, message = BAD_MOUNTS[name]
    text = REGISTRY.split("mounts:")[0] + f"mounts:\n  - {mount}\n"
    path = registry_path(text)
    with pytest.raises(RegistryError) as caught:
        await load(path, demo_db.url)
    assert [str(issue) for issue in caught.value.issues] == [f"{path}:10: {message}"]


async def test_a_root_mount_takes_what_is_left_and_the_longest_mount_wins(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    registry = REGISTRY.replace("path: /api, wsgi", "path: /, wsgi")
    api: Api = await make_api(registry, demo_db.url, demo_db.backend)
    old = await api.get("/usage/builds")
    asgi = await api.get("/old-asgi/x")
    new = await api.get("/api/v1/koji-builds", params={"size": 1})
    assert (old.json()["served_by"], old.json()["script_root"]) == ("flask", "")
    assert asgi.json()["served_by"] == "asgi"
    assert new.headers["content-range"] == "koji-builds 0-0/300"
