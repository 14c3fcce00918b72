"""Routes, methods and the one problem+json envelope."""

from __future__ import annotations

import pytest
from conftest import Api

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code"}


def assert_problem(response_json: dict[str, object], status: int) -> None:
    assert set(response_json) >= PROBLEM_KEYS
    assert response_json["status"] == status
    assert "Traceback" not in str(response_json)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/koji-builds", "/api/v1/koji-builds/1"])
async def test_writes_are_405_problems(demo_api: Api, method: str, path: str) -> None:
    response = await demo_api.client.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, HEAD"  # both are served
    assert_problem(response.json(), 405)


@pytest.mark.parametrize("path", ["/api/v1/git_projects_secret", "/api/v1/nope",
                                  "/api/v1/koji-builds/999999"])
async def test_unknown_paths_and_ids_are_404_problems(demo_api: Api, path: str) -> None:
    response = await demo_api.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert_problem(response.json(), 404)


@pytest.mark.parametrize("raw_id", ["abc", "1.0", "1_0", "+1", "%201", "1e0"])
async def test_detail_id_of_the_wrong_type_is_422(demo_api: Api, raw_id: str) -> None:
    # Only decimal digits: /koji-builds/1.0 is not another URL of row 1.
    response = await demo_api.get(f"/api/v1/koji-builds/{raw_id}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"] == "id"


async def test_head_has_the_headers_and_no_body(demo_api: Api) -> None:
    get = await demo_api.get("/api/v1/koji-builds?size=3")
    head = await demo_api.client.head("/api/v1/koji-builds?size=3")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-range"] == get.headers["content-range"]
    assert int(head.headers["content-length"]) == len(get.content)


async def test_empty_page_content_range(demo_api: Api) -> None:
    response = await demo_api.get("/api/v1/koji-builds?packit_id__gt=99999")
    assert response.json() == {"items": [], "total": 0, "page": 1, "size": 20, "pages": 0, "next": None}
    assert response.headers["content-range"] == "koji-builds */0"
    beyond = await demo_api.get("/api/v1/koji-builds?page=999")
    assert beyond.json()["items"] == []
    assert beyond.headers["content-range"] == f"koji-builds */{beyond.json()['total']}"


async def test_sessions_are_read_only(demo_api: Api) -> None:
    from sqlalchemy import text

    async with demo_api.engine.connect() as connection:
        with pytest.raises(Exception, match=r"(?i)read.?only|readonly|query_only|attempt to write"):
            await connection.execute(text("DELETE FROM koji_build_targets"))
