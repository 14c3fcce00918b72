"""Read-only by construction: the API registers GET routes (and HEAD twins) and nothing else.

Any other method on a known path is Starlette's 405, rendered as problem+json with ``Allow``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

__all__ = ["add_read_route", "allowed_methods"]

# Marks the GET routes that have a HEAD twin: Starlette's 405 names the methods of the
# first route on the path only (the GET one), so ``allowed_methods`` adds the twin's.
_HEAD_TWIN = "crud_head_twin"


def add_read_route(router: APIRouter, path: str, endpoint: Any, **options: Any) -> None:
    """GET ``path`` as documented, plus the same handler for HEAD, kept out of the docs.

    FastAPI adds no HEAD to GET routes, and documenting both would duplicate operation ids.
    """
    router.add_api_route(path, endpoint, methods=["GET"], **options)
    setattr(router.routes[-1], _HEAD_TWIN, True)
    router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)


def allowed_methods(route: Any, allowed: str) -> str:
    """The ``Allow`` header of a 405 on ``route``, given Starlette's ``allowed``."""
    if not getattr(route, _HEAD_TWIN, False):
        return allowed
    methods = {method.strip() for method in allowed.split(",") if method.strip()}
    return ", ".join(sorted(methods | {"HEAD"}))
