"""One error envelope for every client error: RFC 9457 ``application/problem+json``.

Exceptions carry their status and a short code as class attributes (as DRF's do); one
set of handlers renders them, FastAPI's validation errors and Starlette's HTTP errors
into the same shape, so no response ever carries a stack trace or a second error format.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crud.http.methods import allowed_methods

__all__ = [
    "FAILED",
    "PROBLEM_JSON",
    "BadRequest",
    "InvalidParameter",
    "NotFound",
    "ParameterError",
    "Problem",
    "RangeNotSatisfiable",
    "ServiceUnavailable",
    "Unhandled",
    "install_error_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("crud.http.errors")


class ParameterError(dict[str, Any]):
    """One entry of a problem's ``errors`` list: the client's parameter name and a message."""

    def __init__(self, parameter: str, message: str, **extra: Any) -> None:
        super().__init__(parameter=parameter, message=message, **extra)


class Problem(Exception):
    """An error the client can act on; rendered as problem+json with ``status``."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[ParameterError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


class BadRequest(Problem):
    status = 400
    code = "bad_request"


class InvalidParameter(Problem):
    """A known parameter with a value that does not fit its type or limits."""

    status = 422
    code = "invalid_parameter"


class NotFound(Problem):
    status = 404
    code = "not_found"


class RangeNotSatisfiable(Problem):
    status = 416
    code = "range_not_satisfiable"


class ServiceUnavailable(Problem):
    status = 503
    code = "service_unavailable"


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code or _default_code(status),
    }
    if errors:
        body["errors"] = list(errors)
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _default_code(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(
        request, exc.status, exc.detail, code=exc.code, errors=exc.errors, headers=exc.headers
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = _HTTP_DETAILS.get(exc.status_code, str(exc.detail))
    headers = exc.headers
    if exc.status_code == 405 and headers and "Allow" in headers:
        allowed = allowed_methods(request.scope.get("route"), headers["Allow"])
        headers = {**headers, "Allow": allowed}
    return problem_response(request, exc.status_code, detail, headers=headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_entry(error) for error in exc.errors()]
    detail = "; ".join(f"{e['parameter']}: {e['message']}" for e in errors)
    return problem_response(request, 422, detail, code="invalid_parameter", errors=errors)


def _validation_entry(error: Mapping[str, Any]) -> ParameterError:
    # FastAPI locates errors as ("query", "size"); the client knows the name only.
    location = [str(part) for part in error.get("loc", ()) if part not in ("query", "path")]
    return ParameterError(".".join(location) or "request", str(error.get("msg", "invalid")))


FAILED = "The server failed to answer this request."


async def _on_unexpected_error(request: Request, exc: Exception) -> Response:
    # Only what escaped Unhandled gets here (a middleware outside it): Starlette raises it
    # again after this answer, and the server logs it, once.
    return problem_response(request, 500, FAILED)


class Unhandled:
    """Answers an exception nothing else handled with the 500 problem, and logs it once.

    Starlette's ServerErrorMiddleware would answer it too, then raise it again for the
    server: uvicorn's "Exception in ASGI application" was a second traceback of the same
    error. Inside the application's middleware, the 500 also carries the request id and
    the CORS headers. A response already under way cannot become a 500: the exception
    goes on, unlogged here, and the server logs it as it drops the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started:
                raise
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            await problem_response(Request(scope), 500, FAILED)(scope, receive, send)


_HTTP_DETAILS = {
    404: "No resource at this path.",
    405: "This API is read-only: only GET and HEAD are allowed.",
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
