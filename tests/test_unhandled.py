"""An unhandled error is one log record with one traceback, and a problem+json 500 without it.

Starlette's ServerErrorMiddleware answers an exception and then raises it again for the
server, so our handler's record and uvicorn's "Exception in ASGI application" were two
tracebacks for one error (issue 25, item 9).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Api, Database
from served import served

ROUTER = '''\
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

router = APIRouter()


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret-detail-of-the-bug")


@router.get("/halfway")
async def halfway() -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        yield b"first chunk\\n"
        raise RuntimeError("secret-detail-of-the-bug")

    return StreamingResponse(body())
'''
REGISTRY = """\
routers: ['boom_router:router']
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
"""
PROBLEM = {"type": "about:blank", "title": "Internal Server Error", "status": 500,
           "detail": "The server failed to answer this request.", "instance": "/api/v1/boom",
           "code": "internal_server_error", "request_id": "crash-1"}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "boom_router.py").write_text(ROUTER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))  # in process; `crud serve` imports from cwd
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_an_error_is_answered_and_logged_once_inside_the_app(
        make_api: Callable[..., Any], demo_db: Database, registry: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    with caplog.at_level(logging.ERROR):
        # The transport raises what leaves the app: nothing must, it is answered.
        response = await api.get("/api/v1/boom", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"
    assert response.json() == PROBLEM
    logged = [(record.name, record.getMessage(), record.exc_info is not None)
              for record in caplog.records if record.levelno >= logging.ERROR]
    assert logged == [("crud.http.errors", "unhandled error on GET /api/v1/boom", True)]


@pytest.mark.slow
@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_crud_serve_logs_one_traceback_per_error(demo_db: Database, registry: Path,
                                                  tmp_path: Path) -> None:
    with served(registry, demo_db.url, tmp_path) as server:
        response = httpx.get(f"{server.base}/api/v1/boom", headers={"X-Request-ID": "crash-1"})
        with pytest.raises(httpx.RemoteProtocolError):  # the body was cut short
            httpx.get(f"{server.base}/api/v1/halfway")
    output = server.output()
    assert (response.status_code, response.json()) == (500, PROBLEM)
    assert "secret-detail" not in response.text
    # One each: the 500 answered before anything was sent, logged by us; the body that
    # failed halfway, logged by the server that drops the connection.
    assert output.count("Traceback") == 2, output
    assert output.count("RuntimeError: secret-detail-of-the-bug") == 2, output
    assert output.count("unhandled error on GET /api/v1/boom") == 1, output
