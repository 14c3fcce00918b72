"""Read-only by construction: the API registers GET routes (and HEAD twins) and nothing else.

Any other method on a known path is Starlette's 405, rendered as problem+json with ``Allow``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

__all__ = ["add_read_route"]


def add_read_route(router: APIRouter, path: str, endpoint: Any, **options: Any) -> None:
    """GET ``path`` as documented, plus the same handler for HEAD, kept out of the docs.

    FastAPI adds no HEAD to GET routes, and documenting both would duplicate operation ids.
    """
    router.add_api_route(path, endpoint, methods=["GET"], **options)
    router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
