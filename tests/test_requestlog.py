"""Request ids (echoed in a header and in problem bodies) and one JSON access line each."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Api, Database
from fastapi import Request, Response

from crud.config.settings import Settings
from crud.ops.requestlog import AccessLog, LineHandler, RequestRecord, request_id_from

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
"""
GENERATED = re.compile(r"^[0-9a-f]{32}$")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


@pytest.fixture
def access_log() -> Iterator[Lines]:
    logger = logging.getLogger("crud.access")
    handler = Lines()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
async def api(make_api: Callable[..., Any], demo_db: Database) -> Api:
    result: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return result


@pytest.mark.parametrize(("sent", "kept"), [
    ("abc-123", True),
    ("A.b_c-9", True),
    ("x" * 64, True),
    ("x" * 65, False),
    ("has space", False),
    ("semi;colon", False),
    ("", False),
    (None, False),
], ids=["plain", "all-classes", "64-chars", "65-chars", "space", "semicolon", "empty", "absent"])
def test_request_id_is_kept_only_when_sane(sent: str | None, kept: bool) -> None:
    chosen = request_id_from(sent)
    assert chosen == sent if kept else GENERATED.match(chosen)


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("headers", "expected"), [
    ({"X-Request-ID": "dash-7f3a"}, "dash-7f3a"),
    ({"X-Request-ID": "not sane!"}, None),
    ({}, None),
], ids=["client-id-echoed", "insane-id-replaced", "generated"])
async def test_every_response_carries_a_request_id(
        api: Api, headers: dict[str, str], expected: str | None) -> None:
    response = await api.get("/api/v1/koji-builds", params={"size": 1}, headers=headers)
    echoed = response.headers["x-request-id"]
    assert echoed == expected if expected else GENERATED.match(echoed)


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_problem_bodies_carry_the_request_id(api: Api) -> None:
    response = await api.get("/api/v1/koji-builds/999999", headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "r-404"
    assert response.json() == {
        "type": "about:blank", "title": "Not Found", "status": 404,
        "detail": "No koji build with id '999999'.", "instance": "/api/v1/koji-builds/999999",
        "code": "not_found", "request_id": "r-404"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_one_json_access_line_per_request(api: Api, access_log: Lines) -> None:
    await api.get("/api/v1/koji-builds", params={"size": 2}, headers={"X-Request-ID": "l-1"})
    await api.get("/api/v1/koji-builds/999999", headers={"X-Request-ID": "l-2"})
    await api.get("/readyz", headers={"X-Request-ID": "l-3"})
    durations = [line.pop("duration_ms") for line in access_log.lines]
    assert all(isinstance(value, float) and value >= 0 for value in durations)
    assert access_log.lines == [
        {"method": "GET", "path": "/api/v1/koji-builds", "status": 200,
         "resource": "koji-builds", "request_id": "l-1"},
        {"method": "GET", "path": "/api/v1/koji-builds/999999", "status": 404,
         "resource": "koji-builds", "request_id": "l-2"},
        {"method": "GET", "path": "/readyz", "status": 200, "resource": "/readyz",
         "request_id": "l-3"},
    ]


@pytest.mark.parametrize(("sent", "same"), [("keep-me", True), ("not sane!", False), (None, False)],
                         ids=["sane", "replaced", "absent"])
async def test_the_app_behind_sees_the_id_the_client_gets(
        make_api: Callable[..., Any], tmp_path: Path, sent: str | None, same: bool) -> None:
    api: Api = await make_api(REGISTRY, f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")

    async def echo(request: Request) -> dict[str, list[str]]:
        return {"ids": request.headers.getlist("x-request-id")}

    api.app.add_api_route("/echo", echo)
    response = await api.get("/echo", headers={"X-Request-ID": sent} if sent else {})
    assert response.json() == {"ids": [response.headers["x-request-id"]]}
    assert (response.headers["x-request-id"] == sent) is same


async def test_an_id_echoed_by_the_app_behind_is_not_doubled(
        make_api: Callable[..., Any], tmp_path: Path) -> None:
    api: Api = await make_api(REGISTRY, f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")

    async def echo(request: Request) -> Response:
        return Response(b"", headers={"X-Request-ID": request.headers["x-request-id"]})

    api.app.add_api_route("/echo", echo)
    response = await api.get("/echo", headers={"X-Request-ID": "once"})
    assert response.headers.get_list("x-request-id") == ["once"]


async def test_a_crash_is_logged_as_500_with_its_request_id(
        make_api: Callable[..., Any], tmp_path: Path, access_log: Lines) -> None:
    api: Api = await make_api(REGISTRY, f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")

    async def boom() -> None:
        raise RuntimeError("bug")

    api.app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.json()["request_id"] == "crash-1"
    assert [(line["status"], line["request_id"]) for line in access_log.lines] == [
        (500, "crash-1")]


async def test_access_log_can_be_turned_off(
        make_api: Callable[..., Any], tmp_path: Path, access_log: Lines) -> None:
    api: Api = await make_api(REGISTRY, f"sqlite+aiosqlite:///{tmp_path / 'e.db'}",
                              settings=Settings(access_log=False))
    response = await api.get("/healthz", headers={"X-Request-ID": "quiet"})
    assert response.headers["x-request-id"] == "quiet"
    assert access_log.lines == []


@pytest.mark.parametrize("configured", [False, True], ids=["own-handler", "configured"])
def test_access_lines_print_the_same_with_or_without_logging_configured(configured: bool) -> None:
    # Our own stderr handler takes a short path (no LogRecord); a logger the host
    # application configured (here: a filter) gets the ordinary logging call.
    stream = io.StringIO()
    logger = logging.getLogger(f"crud.test.access.{configured}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = LineHandler(stream)  # what ensure_handler installs when nothing is configured
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers = [handler]
    seen: list[str] = []
    if configured:
        logger.addFilter(lambda record: seen.append(record.getMessage()) or True)
    AccessLog(logger)(RequestRecord("GET", "/p", 200, 0.0012345, "r", "id1"))
    line = ('{"method":"GET","path":"/p","status":200,"duration_ms":1.23,"resource":"r",'
            '"request_id":"id1"}')
    assert stream.getvalue() == line + "\n"
    assert seen == ([line] if configured else [])


def test_fresh_request_ids_differ_in_forked_workers() -> None:
    import os

    from crud.ops.requestlog import request_id_from

    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # a worker forked after import (gunicorn --preload) draws its own ids
        os.write(writer, request_id_from(None).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    theirs = os.read(reader, 64).decode()
    mine = request_id_from(None)
    assert len(mine) == len(theirs) == 32
    assert theirs != mine
    assert int(mine, 16) >= 0
    assert len({request_id_from(None) for _ in range(1000)}) == 1000
