"""An old API's error bodies (``legacy: {error_body: ...}``), everywhere a read fails."""

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
  srpm-builds:
    model: resources.models:SRPMBuildModel
    profile: legacy
    legacy:
      per_page_values: [10, 20]
      error_body: {"error": "{detail}", "status": "{status}", "why": "{title} ({code})"}
      error_status: {422: 400}
    fields: {packit_id: id, status:}
    filters: {status: [eq]}
    default_sort: [packit_id]
  plain:
    model: resources.models:SRPMBuildModel
    profile: legacy
    fields: {packit_id: id, status:}
"""


@pytest.fixture
async def api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    made: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return made


async def test_an_unknown_id_is_a_404_in_the_old_body(api: Api) -> None:
    response = await api.get("/api/srpm-builds/999999")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "No srpm build with id '999999'.", "status": 404,
                               "why": "Not Found (not_found)"}


@pytest.mark.parametrize(("target", "status", "error"), [
    ("/api/srpm-builds?size=2", 400,
     "Unknown query parameter 'size'"),
    ("/api/srpm-builds?per_page=15", 400,  # our 422, their 400
     "per_page: must be one of 10, 20"),
    ("/api/srpm-builds/abc", 400,
     "id: Input should be a whole number in decimal digits"),
    ("/api/srpm-builds/1?status=x", 400,
     "Unknown query parameter 'status'. A single row takes no query parameters."),
], ids=["unknown-parameter", "value-error-unprefixed", "bad-id", "detail-query"])
async def test_bad_parameters_answer_the_old_body_and_status(
        api: Api, target: str, status: int, error: str) -> None:
    response = await api.get(target)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "status", "why"}
    assert body["status"] == status
    assert body["error"].startswith(error)
    assert "Value error" not in body["error"]


async def test_a_resource_without_an_error_body_keeps_problem_json(api: Api) -> None:
    response = await api.get("/api/plain/999999")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "No plain with id '999999'."


async def test_head_of_an_unknown_id_is_a_bodyless_404(api: Api) -> None:
    response = await api.client.head("/api/srpm-builds/999999")
    assert response.status_code == 404


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_openapi_documents_the_declared_error_body(api: Api) -> None:
    document = (await api.get("/openapi.json")).json()
    detail = document["paths"]["/api/srpm-builds/{id}"]["get"]["responses"]
    schema = {"type": "object", "required": ["error", "status", "why"],
              "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
                             "why": {"type": "string"}}}
    assert detail["404"]["content"] == {"application/json": {"schema": schema}}
    listed = document["paths"]["/api/srpm-builds"]["get"]["responses"]
    assert "422" not in listed  # sent as 400
    assert listed["400"]["content"] == {"application/json": {"schema": schema}}
    plain = document["paths"]["/api/plain/{id}"]["get"]["responses"]
    assert "application/problem+json" in plain["404"]["content"]


@pytest.mark.parametrize(("body", "message"), [
    ('{"error": "{details}"}', "'{details}': unknown placeholder {details}; use {detail}, "
                               "{status}, {title} or {code}"),
    ('{"error": "{detail"}', "'{detail': expected '}' before end of string (write {{ and }} "
                             "for literal braces)"),
], ids=["unknown-placeholder", "unclosed-brace"])
async def test_a_bad_template_is_refused_at_startup(tmp_path: Path, body: str,
                                                    message: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY.replace(
        '{"error": "{detail}", "status": "{status}", "why": "{title} ({code})"}', body),
        encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        await load(path, "sqlite+aiosqlite:///:memory:")
    assert message in str(caught.value)
    assert "resources.srpm-builds.legacy.error_body" in str(caught.value)
