"""The paging surface is documented: headers, parameters and the 206/416 answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import Database
from readings import registry, serve


async def test_openapi_documents_paging(readings_db: Database,
                                        make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry("    count: {capped: 1000}"))
    operation = api.app.openapi()["paths"]["/api/v1/readings"]["get"]
    assert list(operation["responses"]) == [
        "200", "304", "400", "404", "422", "500", "503", "206", "416"]
    paging = ["Content-Range", "Total-Count-Kind", "Link", "Accept-Ranges", "Range-Truncated"]
    assert list(operation["responses"]["200"]["headers"]) == [
        *paging, "ETag", "Cache-Control", "Content-Disposition", "Export-Max-Rows"]  # exports
    assert list(operation["responses"]["206"]["headers"]) == paging
    kind = operation["responses"]["200"]["headers"]["Total-Count-Kind"]["schema"]
    assert kind == {"type": "string", "enum": ["exact", "estimated", "lower-bound", "none"]}
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["count"]["schema"] == {"type": "string",
                                             "enum": ["none", "estimated", "auto"]}
    assert parameters["Range"]["in"] == "header"
    assert parameters["cursor"]["schema"] == {"type": "string"}
    page = api.app.openapi()["components"]["schemas"]["ReadingPage"]["properties"]
    assert page["next"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
