"""``legacy.item``: a legacy list whose items are one field's bare values (``[1, 5, 12]``).

Packit's ``/projects/.../issues`` answers a bare array of issue numbers; the option declares
it. Lists only (a detail stays the object), checked at load, typed in OpenAPI.
"""

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
  prefix: /api
resources:
  issues:
    model: resources.models:IssueModel
    profile: legacy
    legacy: {unit: issues, item: issue_id}
    fields: {id:, issue_id:, project_id:}
    filters: {project_id: [eq]}
    sort: [id]
    default_sort: [id]
  issue-objects:
    model: resources.models:IssueModel
    fields: {id:, issue_id:, project_id:}
    default_sort: [id]
"""


@pytest.fixture
async def api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    served: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return served


async def test_a_list_of_bare_values_in_the_page_order(api: Api) -> None:
    objects = (await api.get("/api/issue-objects?size=3")).json()["items"]
    response = await api.get("/api/issues?per_page=3&order_by=id")
    assert response.status_code == 206
    assert response.headers["content-range"] == "issues 1-3/*"
    assert response.json() == [item["issue_id"] for item in objects]
    assert response.content.endswith(b"]\n")


async def test_filters_and_later_pages_apply_as_to_objects(api: Api) -> None:
    objects = (await api.get("/api/issue-objects?size=100")).json()["items"]
    second = (await api.get("/api/issues?page=2&per_page=2")).json()
    assert second == [item["issue_id"] for item in objects[2:4]]
    project = objects[0]["project_id"]
    mine = (await api.get(f"/api/issues?project_id={project}")).json()
    assert mine == [item["issue_id"] for item in objects if item["project_id"] == project]


async def test_the_detail_stays_the_object(api: Api) -> None:
    response = await api.get("/api/issues/1")
    assert response.status_code == 200
    assert set(response.json()) == {"id", "issue_id", "project_id"}


async def test_one_statement_per_page_whatever_its_size(api: Api) -> None:
    counts = []
    for per_page in (2, 10):
        api.log.clear()
        assert (await api.get(f"/api/issues?per_page={per_page}")).status_code == 206
        counts.append(api.log.count)
    assert counts == [1, 1]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_openapi_says_array_of_the_field_type(api: Api) -> None:
    document = (await api.get("/openapi.json")).json()
    schema = document["paths"]["/api/issues"]["get"]["responses"]["206"]["content"][
        "application/json"]["schema"]
    assert schema["type"] == "array"
    assert schema["items"] == {"type": "integer"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("option", "message"), [
    ("item: number", "resources.issues.legacy.item: 'number' is not a field of issues "
                     "(fields: id, issue_id, project_id, project)"),
    ("item: project", "resources.issues.legacy.item: 'project' is an object or a list of "
                      "objects; name a field whose value is sent as it is"),
])
async def test_an_item_that_is_not_a_value_field_is_a_located_error(
        demo_db: Database, registry_path: Callable[[str], Path], option: str,
        message: str) -> None:
    text = REGISTRY.replace("item: issue_id", option).replace(
        "fields: {id:, issue_id:, project_id:}\n    filters",
        "fields: {id:, issue_id:, project_id:, project: {source: project, fields: {namespace:}}}"
        "\n    filters")
    path = registry_path(text)
    line = text.splitlines().index(f"    legacy: {{unit: issues, {option}}}") + 1
    with pytest.raises(RegistryError) as caught:
        await load(path, demo_db.url)
    assert [str(issue) for issue in caught.value.issues] == [f"{path}:{line}: {message}"]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_an_api_wide_item_is_refused(demo_db: Database,
                                           registry_path: Callable[[str], Path]) -> None:
    text = REGISTRY.replace("  prefix: /api\n", "  prefix: /api\n  legacy: {item: issue_id}\n")
    path = registry_path(text)
    with pytest.raises(RegistryError) as caught:
        await load(path, demo_db.url)
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}:4: api.legacy.item: an item field names one resource's field; declare it "
        "in that resource's legacy:"]
