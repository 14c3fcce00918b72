"""Where the URLs the API sends point: root-relative, or on ``CRUD_PUBLIC_URL``.

A URL built from the request (Starlette's ``request.url``, its trailing-slash redirect)
repeats the client's ``Host`` header, so ``Host: evil.example`` would come back in a
``Link`` or a ``Location`` that a shared cache may keep and hand to others. No URL the API
sends reads ``Host``: without a public URL they are root-relative (``/api/v1/x?...``, under
the ASGI ``root_path``), which RFC 8288 and RFC 9110 allow and every client resolves
against the URL it asked; with one, they start with it.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

__all__ = ["SlashRedirect", "route_path", "url_base"]


def route_path(scope: Scope) -> str:
    """The path the routes match: behind a proxy that strips a prefix, without the root path."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def url_base(scope: Scope, public_url: str | None) -> str:
    """What the API's own URLs start with, before a route path: the public URL, else the
    root path (empty at ``/``)."""
    return public_url if public_url is not None else str(scope.get("root_path", ""))


class SlashRedirect:
    """The router's fallback: Starlette's ``redirect_slashes``, with a Location of our own.

    A path no route takes that one does with its trailing slash added or removed is
    redirected there; anything else is the router's 404.
    """

    def __init__(self, router: Router, *, public_url: str | None = None) -> None:
        self.router = router
        self.public_url = public_url

    def __repr__(self) -> str:
        return f"SlashRedirect(public_url={self.public_url!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        location = self._location(scope) if scope["type"] == "http" else None
        if location is None:
            await self.router.not_found(scope, receive, send)
            return
        await RedirectResponse(location)(scope, receive, send)

    def _location(self, scope: Scope) -> str | None:
        path = route_path(scope)
        if path == "/":
            return None
        full: str = scope["path"]
        other = {**scope, "path": full.rstrip("/") if path.endswith("/") else f"{full}/"}
        if all(route.matches(other)[0] is Match.NONE for route in self.router.routes):
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        target = f"{url_base(scope, self.public_url)}{route_path(other)}"
        return f"{target}?{query}" if query else target
