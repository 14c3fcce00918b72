"""An old API's error bodies: a profile's own envelope in place of problem+json.

The registry declares a template object (``legacy: {error_body: {"error": "{detail}"}}``,
checked by ``crud.config.registry.LegacySpec``) whose string values interpolate ``{detail}``,
``{status}``, ``{title}`` and ``{code}`` (a value that is exactly ``"{status}"`` stays the
integer), and optionally a status map (``error_status: {422: 400}``) for an API that
answered other codes. Every problem a resource's reads raise (unknown id, bad parameters,
busy database, auth) and any unexpected error are then rendered this way, with the same
status and headers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from crud.http.errors import FAILED, Problem

__all__ = ["Endpoint", "ErrorBody"]

Endpoint = Callable[[Request], Awaitable[Response]]
logger = logging.getLogger("crud.http.errors")


class ErrorBody:
    """Renders problems as the declared template, statuses mapped as declared."""

    media_type = "application/json"

    def __init__(self, template: Mapping[str, Any], statuses: Mapping[int, int]) -> None:
        self.template = dict(template)
        self.statuses = dict(statuses)

    def __repr__(self) -> str:
        return f"ErrorBody({self.template!r}, statuses={self.statuses!r})"

    def body(self, status: int, detail: str, code: str) -> bytes:
        values = {"detail": detail, "status": status, "title": HTTPStatus(status).phrase,
                  "code": code}
        return orjson.dumps(_fill(self.template, values))

    def response(self, problem: Problem) -> Response:
        status = self.statuses.get(problem.status, problem.status)
        return Response(self.body(status, problem.detail, problem.code), status,
                        media_type=self.media_type, headers=problem.headers)

    def speaking(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` answering its problems (and unexpected errors) in this body."""

        async def answer(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Problem as problem:
                return self.response(problem)
            except Exception:  # the same log line as crud.http.errors.Unhandled
                logger.exception("unhandled error on %s %s", request.method, request.url.path)
                return self.response(_Failed(FAILED))

        answer.__name__ = getattr(endpoint, "__name__", "read")
        return answer

    def openapi_schema(self) -> dict[str, Any]:
        """The template's JSON schema: its keys, strings where it interpolates."""
        return _schema(self.template)


class _Failed(Problem):
    status = 500
    code = "internal_server_error"


def _fill(template: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    if template == "{status}":
        return values["status"]
    if isinstance(template, str):
        return template.format_map(values)
    return template


def _schema(template: Any) -> dict[str, Any]:
    if isinstance(template, dict):
        return {"type": "object", "required": list(template),
                "properties": {key: _schema(value) for key, value in template.items()}}
    if isinstance(template, list):
        return {"type": "array"}
    if template == "{status}" or (isinstance(template, int) and not isinstance(template, bool)):
        return {"type": "integer"}
    if isinstance(template, str):
        return {"type": "string"}
    if isinstance(template, bool):
        return {"type": "boolean"}
    if isinstance(template, float):
        return {"type": "number"}
    return {}
