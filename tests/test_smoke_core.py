from __future__ import annotations

from conftest import Api


async def test_list_page_has_items_and_content_range(demo_api: Api) -> None:
    response = await demo_api.get("/api/v1/koji-builds", params={"size": 5})
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 5
    assert response.headers["content-range"] == f"koji-builds 0-4/{body['total']}"
