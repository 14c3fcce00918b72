"""An unlisted column never leaks: ``git_projects.webhook_secret`` appears in no response.

The demo data gives every project a ``SECRET-…`` webhook secret; the registry does not list
the column. Every resource is swept (all list pages, every project's detail, HEAD, searches,
filters through the project relations, error cases that name the column) and no body,
header or error may contain any of the stored values, on every backend.
"""

from __future__ import annotations

import httpx
from conftest import Api
from sqlalchemy import text

PREFIX = "/api/v1"


async def stored_secrets(api: Api) -> list[str]:
    async with api.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT webhook_secret FROM git_projects"))).all()
    secrets = [row[0] for row in rows]
    assert secrets
    assert all(secret.startswith("SECRET-") for secret in secrets)
    return secrets


def leaks(response: httpx.Response, secrets: list[str]) -> list[str]:
    exposed = [response.text, *(f"{key}: {value}" for key, value in response.headers.items())]
    return [f"{response.request.method} {response.request.url}: {secret}"
            for secret in secrets if any(secret in part for part in exposed)]


async def every_list_page(api: Api, path: str) -> list[httpx.Response]:
    first = await api.get(path, params={"size": 100})
    assert first.status_code == 200, first.text
    pages = first.json()["pages"] or 1
    rest = [await api.get(path, params={"size": 100, "page": page}) for page in range(2, pages + 1)]
    return [first, *rest]


async def sweep(api: Api) -> list[httpx.Response]:
    responses: list[httpx.Response] = []
    for resource in api.app.state.registry.resources:
        path = f"{PREFIX}/{resource.name}"
        responses.extend(await every_list_page(api, path))
        responses.append(await api.client.head(path))
        if resource.search:
            responses.append(await api.get(path, params={"search": "SECRET"}))
    projects = (await api.get(f"{PREFIX}/projects", params={"size": 100})).json()["items"]
    for project in projects:
        responses.append(await api.get(f"{PREFIX}/projects/{project['id']}"))
        responses.append(await api.client.head(f"{PREFIX}/projects/{project['id']}"))
        responses.append(await api.get(f"{PREFIX}/pull-requests",
                                       params={"repo_namespace": project["namespace"]}))
    for path in ("/openapi.json", "/docs", f"{PREFIX}/git_projects", f"{PREFIX}/projects/0"):
        responses.append(await api.get(path))
    return responses


ERROR_CASES = [
    ("order-by-secret", "/projects?order_by=webhook_secret", 422),
    ("order-by-secret-descending", "/projects?order_by=-webhook_secret", 422),
    ("filter-by-secret", "/projects?webhook_secret=x", 400),
    ("filter-by-secret-prefix", "/projects?webhook_secret__like=SECRET", 400),
    ("filter-by-nested-secret", "/pull-requests?project.webhook_secret=x", 400),
    ("search-for-secret-prefix", "/projects?search=SECRET-", 200),
    ("detail-with-secret-parameter", "/projects/1?webhook_secret=x", 400),
]


async def test_no_response_contains_a_webhook_secret(demo_api: Api) -> None:
    secrets = await stored_secrets(demo_api)
    responses = await sweep(demo_api)
    for _, path, _ in ERROR_CASES:
        responses.append(await demo_api.get(PREFIX + path))
    assert len(responses) >= 40
    assert all(response.status_code < 500 for response in responses)
    found = [leak for response in responses for leak in leaks(response, secrets)]
    assert not found, "\n".join(found)


async def test_the_secret_column_is_neither_sortable_nor_filterable(demo_api: Api) -> None:
    wrong = []
    for name, path, status in ERROR_CASES:
        response = await demo_api.get(PREFIX + path)
        parameter = path.split("?")[1].split("=")[0]
        if status == 200:
            ok = response.status_code == 200 and response.json()["items"] == []
        else:
            body = response.json()
            ok = (response.status_code, body["status"]) == (status, status) and [
                error["parameter"] for error in body["errors"]] == [parameter]
        if not ok:
            wrong.append(f"{name}: {response.status_code} {response.text[:300]}")
    assert not wrong, "\n".join(wrong)


async def test_the_sort_error_lists_only_declared_keys(demo_api: Api) -> None:
    response = await demo_api.get(f"{PREFIX}/projects?order_by=webhook_secret")
    allowed = response.json()["errors"][0]["message"].split("allowed: ")[1]
    assert allowed.split(", ") == ["id", "-id", "namespace", "-namespace", "repo_name",
                                   "-repo_name", "created_at", "-created_at"]


async def test_the_filter_error_names_the_parameter_and_the_valid_ones(demo_api: Api) -> None:
    body = (await demo_api.get(f"{PREFIX}/projects?webhook_secret=x")).json()
    [error] = body["errors"]
    assert error["parameter"] == "webhook_secret"
    assert error["message"].startswith("unknown parameter")
    valid = body["detail"].split("Valid parameters: ")[1].rstrip(".").split(", ")
    assert not [name for name in valid if "secret" in name]
    assert {"namespace", "pr_ids__in", "order_by", "search", "page", "size"} <= set(valid)
