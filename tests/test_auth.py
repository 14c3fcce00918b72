"""Per-resource auth: ``api_key`` and ``bearer`` guard their resources, the rest stay public."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database

from crud.app import create_app, load
from crud.config.registry import RegistryError, parse_registry
from crud.config.settings import Settings
from crud.sql.database import make_engine

REGISTRY = """\
api:
  auth: bearer
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
    auth: api_key
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
    auth: none
  pull-requests:
    model: resources.models:PullRequestModel
    fields: {id:, pr_id:}
"""
SETTINGS = Settings(api_keys="key-one, key-two", bearer_tokens="tok-1")
API_KEY_CHALLENGE = 'ApiKey header="X-API-Key"'


@pytest.fixture
async def api(make_api: Callable[..., Any], demo_db: Database) -> Api:
    result: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend, settings=SETTINGS)
    return result


def _problem(detail: str, instance: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail,
            "instance": instance, "code": "unauthorized", "request_id": "a-1"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "headers", "challenge", "detail"), [
    ("/api/v1/koji-builds", {}, API_KEY_CHALLENGE,
     "This resource needs an API key in the X-API-Key header."),
    ("/api/v1/koji-builds/1", {"X-API-Key": "key-three"}, API_KEY_CHALLENGE,
     "The API key is not valid."),
    ("/api/v1/koji-builds", {"Authorization": "Bearer tok-1"}, API_KEY_CHALLENGE,
     "This resource needs an API key in the X-API-Key header."),
    ("/api/v1/pull-requests", {}, 'Bearer realm="crud"',
     "This resource needs a token: send 'Authorization: Bearer <token>'."),
    ("/api/v1/pull-requests", {"Authorization": "Basic dG9rLTE="}, 'Bearer realm="crud"',
     "This resource needs a token: send 'Authorization: Bearer <token>'."),
    ("/api/v1/pull-requests/1", {"Authorization": "Bearer tok-2"},
     'Bearer realm="crud", error="invalid_token"', "The bearer token is not valid."),
    ("/api/v1/pull-requests", {"X-API-Key": "key-one"}, 'Bearer realm="crud"',
     "This resource needs a token: send 'Authorization: Bearer <token>'."),
], ids=["key-missing", "key-wrong", "key-resource-given-token", "token-missing",
        "basic-scheme", "token-wrong", "token-resource-given-key"])
async def test_a_protected_resource_answers_401_with_a_challenge(
        api: Api, path: str, headers: dict[str, str], challenge: str, detail: str) -> None:
    response = await api.get(path, headers={**headers, "X-Request-ID": "a-1"})
    assert response.status_code == 401
    assert dict(response.headers) == {
        "content-type": "application/problem+json", "www-authenticate": challenge,
        "content-length": response.headers["content-length"], "x-request-id": "a-1"}
    assert response.json() == _problem(detail, path)


@pytest.mark.parametrize(("path", "headers"), [
    ("/api/v1/koji-builds", {"X-API-Key": "key-one"}),
    ("/api/v1/koji-builds/1", {"X-API-Key": "key-two"}),
    ("/api/v1/pull-requests", {"Authorization": "Bearer tok-1"}),
    ("/api/v1/pull-requests/1", {"Authorization": "bearer tok-1"}),
    ("/api/v1/projects", {}),
    ("/api/v1/projects/1", {}),
], ids=["first-key", "second-key-detail", "token", "token-lowercase-scheme", "public-list",
        "public-detail"])
async def test_valid_credentials_and_public_resources_get_200(
        api: Api, path: str, headers: dict[str, str]) -> None:
    response = await api.get(path, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_head_is_protected_too(api: Api) -> None:
    assert (await api.client.head("/api/v1/koji-builds")).status_code == 401
    assert (await api.client.head("/api/v1/koji-builds",
                                  headers={"X-API-Key": "key-one"})).status_code == 200


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_openapi_declares_schemes_and_security_on_protected_operations_only(
        api: Api) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                   "description": "One of the keys in CRUD_API_KEYS, in the X-API-Key header"},
        "Bearer": {"type": "http", "scheme": "bearer",
                   "description": "One of the tokens in CRUD_BEARER_TOKENS"},
    }
    security = {operation["operationId"]: operation.get("security")
                for path in spec["paths"].values() for operation in path.values()}
    assert security == {
        "list_koji_builds": [{"ApiKey": []}], "get_koji_build": [{"ApiKey": []}],
        "list_projects": None, "get_project": None,
        "list_pull_requests": [{"Bearer": []}], "get_pull_request": [{"Bearer": []}],
        "healthz": None, "readyz": None, "metrics": None,
    }
    responses = spec["paths"]["/api/v1/koji-builds"]["get"]["responses"]
    assert responses["401"]["headers"] == {"WWW-Authenticate": {"schema": {"type": "string"}}}
    assert "401" not in spec["paths"]["/api/v1/projects"]["get"]["responses"]


@pytest.mark.parametrize(("settings", "expected"), [
    (Settings(bearer_tokens="t"),
     ["registry.yaml:7: resources.koji-builds.auth: 'api_key' protects 'koji-builds' but no "
      "secret is configured: set CRUD_API_KEYS (comma-separated)"]),
    (Settings(api_keys="k"),
     ["registry.yaml:2: api.auth: 'bearer' protects 'pull-requests' but no secret is "
      "configured: set CRUD_BEARER_TOKENS (comma-separated)"]),
], ids=["no-api-keys", "no-bearer-tokens"])
async def test_a_protected_resource_without_secrets_fails_at_startup(
        registry_path: Callable[[str], Path], settings: Settings, expected: list[str]) -> None:
    path = registry_path(REGISTRY)
    loaded = await load(path, "sqlite+aiosqlite:///:memory:")
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    with pytest.raises(RegistryError) as caught:
        create_app(loaded, engine, settings=settings)
    await engine.dispose()
    assert [str(issue).replace(str(path), "registry.yaml") for issue in caught.value.issues] \
        == expected


def test_secrets_come_from_comma_separated_env_and_never_show(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUD_API_KEYS", " alpha , beta,,")
    monkeypatch.setenv("CRUD_BEARER_TOKENS", "gamma")
    monkeypatch.setenv("CRUD_CORS_ORIGINS", "https://dash.example, http://localhost:3000")
    settings = Settings()
    assert [key.get_secret_value() for key in settings.api_keys] == ["alpha", "beta"]
    assert [token.get_secret_value() for token in settings.bearer_tokens] == ["gamma"]
    assert settings.cors_origins == ("https://dash.example", "http://localhost:3000")
    assert "alpha" not in repr(settings)
    assert "gamma" not in repr(settings)


@pytest.mark.parametrize(("snippet", "expected"), [
    ("    auth: basic\n",
     ["registry.yaml:5: resources.r.auth: Input should be 'none', 'api_key' or 'bearer'"]),
    ("    cache: {max_age: -1}\n",
     ["registry.yaml:5: resources.r.cache.max_age: Input should be greater than or equal to 0"]),
    ("    cache: {maxage: 5}\n",
     # max_age is optional (a cache: may hold only a validator).
     ["registry.yaml:5: resources.r.cache.maxage: unknown key 'maxage'"]),
], ids=["unknown-auth-kind", "negative-max-age", "misspelt-cache-key"])
def test_auth_and_cache_keys_are_validated_with_their_line(snippet: str,
                                                           expected: list[str]) -> None:
    text_ = "resources:\n  r:\n    model: m:M\n    fields: {id:}\n" + snippet
    with pytest.raises(RegistryError) as caught:
        parse_registry(text_)
    assert [str(issue) for issue in caught.value.issues] == expected
