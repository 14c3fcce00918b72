"""Which Host the API answers to, and which base URL its links start with.

No URL the API sends is built from the request's ``Host`` (crud.http.urls): links and
redirects are root-relative, or on ``CRUD_PUBLIC_URL``. ``CRUD_TRUSTED_HOSTS`` only decides
which requests are answered, with Starlette's own matching; it reflects no host either.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crud.config.settings import Settings
from crud.http.errors import problem_response

__all__ = ["UNCHECKED_PATHS", "TrustedHosts", "public_base_url"]

# Probes and scrapes come from the orchestrator by pod address (kubelet, Prometheus, the
# container's HEALTHCHECK on 127.0.0.1), and these answers build no URL from Host.
UNCHECKED_PATHS = ("/healthz", "/readyz", "/metrics")
_PASSED = "crud.trusted_host"  # set in the scope once Starlette let the request through


def public_base_url(settings: Settings) -> str | None:
    """The base of links (``https://api.example.org/prefix``, no trailing slash).

    None when ``CRUD_PUBLIC_URL`` is unset: links are then root-relative.
    """
    return settings.public_url


class TrustedHosts:
    """Starlette's ``TrustedHostMiddleware``, answering refusals in the problem+json envelope."""

    def __init__(self, app: ASGIApp, *, hosts: Sequence[str],
                 unchecked: Collection[str] = UNCHECKED_PATHS) -> None:
        self.app = app
        self.hosts = tuple(hosts)
        self.unchecked = frozenset(unchecked)
        # Starlette decides (its patterns, its Host parsing); only its plain-text 400 is ours
        # to replace. No www redirect: it would send clients to a host nobody configured.
        self.check = TrustedHostMiddleware(self._passed, allowed_hosts=list(self.hosts),
                                           www_redirect=False)

    def __repr__(self) -> str:
        return f"TrustedHosts(hosts={list(self.hosts)}, unchecked={sorted(self.unchecked)})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.unchecked:
            await self.app(scope, receive, send)
            return

        async def send_if_passed(message: Message) -> None:
            if scope.get(_PASSED):
                await send(message)

        await self.check(scope, receive, send_if_passed)
        if not scope.get(_PASSED):
            await _refusal(scope)(scope, receive, send)

    async def _passed(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_PASSED] = True
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> Response:
    host = Headers(scope=scope).get("host")
    detail = (f"The Host header {host!r} does not name this API." if host
              else "The request has no Host header.")
    return problem_response(Request(scope), 400, detail, code="untrusted_host")
