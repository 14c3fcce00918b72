"""Existing applications served beside the generated API, e.g. the old Flask app at ``/api``.

Mounted applications are the application's fallback, not ordinary routes: every route of
the application itself (generated, hand-written, docs, health) is tried first, whatever
order they were added in, and only a request that none of them claims goes to the mount
with the longest matching path. So ``/api/v1/...`` stays with the new API while the old app
mounted at ``/api`` keeps answering everything else under ``/api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from starlette.routing import Mount as MountRoute
from starlette.routing import Router
from starlette.types import ASGIApp

from crud.config.registry import Mount
from crud.model.binding import IssueCollector, hint
from crud.model.sources import import_object

__all__ = ["MountedApp", "import_reference", "install_mounts", "resolve_mounts"]


@dataclass(frozen=True)
class MountedApp:
    """One registry ``mounts:`` entry, imported and wrapped as an ASGI application."""

    path: str
    reference: str
    app: ASGIApp

    def __repr__(self) -> str:
        return f"MountedApp({self.path!r}, {self.reference!r})"


def import_reference(reference: str, collector: IssueCollector,
                     location: tuple[str | int, ...]) -> Any | None:
    """Import ``module:attribute``; on failure record a located issue and return None."""
    try:
        return import_object(reference)
    except ValueError as error:
        message = str(error.args[0])
        if len(error.args) > 1:
            message += hint(reference.partition(":")[2], error.args[1])
        collector.add(location, message)
    except Exception as error:  # the user's module failed while importing: report it
        collector.add(location, f"importing {reference!r} raised "
                                f"{type(error).__name__}: {error}")
    return None


def resolve_mounts(mounts: Sequence[Mount], collector: IssueCollector) -> list[MountedApp]:
    resolved = []
    for index, mount in enumerate(mounts):
        kind = "wsgi" if mount.wsgi is not None else "asgi"
        location = ("mounts", index, kind)
        target = import_reference(mount.reference, collector, location)
        if target is None:
            continue
        if not callable(target):
            collector.add(location, f"{mount.reference!r} is a {type(target).__name__}, not "
                                    f"a {kind.upper()} application (e.g. a Flask() instance)")
            continue
        app: ASGIApp = WSGIMiddleware(target) if kind == "wsgi" else target  # type: ignore[assignment]
        resolved.append(MountedApp(path=mount.path, reference=mount.reference, app=app))
    return resolved


def install_mounts(app: FastAPI, mounted: Sequence[MountedApp]) -> None:
    """Serve ``mounted`` for requests that no route of ``app`` matches."""
    if not mounted:
        return
    longest_first = sorted(mounted, key=lambda item: len(item.path.rstrip("/")), reverse=True)
    routes = [MountRoute(item.path.rstrip("/"), app=item.app) for item in longest_first]
    # Router.default is Starlette's hook for "no route matched"; chaining the previous
    # default keeps the problem+json 404 for paths that no mount claims either.
    app.router.default = Router(routes=routes, default=app.router.default)
