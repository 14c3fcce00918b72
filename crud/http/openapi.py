"""The OpenAPI document as a whole: shared components that no single route can declare.

FastAPI collects component schemas only from pydantic models used by routes. The error
envelope is documented under its own media type (``application/problem+json``), so it is
added here once as ``#/components/schemas/Problem`` and every error response refers to it
(inline copies from any module are folded into the reference): typed clients get one
``Problem`` type instead of one anonymous type per status and route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from crud.http.schema import PROBLEM_SCHEMA

__all__ = ["PROBLEM_REF", "install_openapi"]

PROBLEM_REF: dict[str, Any] = {"$ref": "#/components/schemas/Problem"}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` include the shared components (built once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = _fold_problems(generate())
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = {"title": "Problem", **PROBLEM_SCHEMA}
            app.openapi_schema = document
        return app.openapi_schema

    # FastAPI's documented way to extend the schema is replacing this method.
    app.openapi = openapi  # type: ignore[method-assign]


def _fold_problems(node: Any) -> Any:
    if node == PROBLEM_SCHEMA:
        return PROBLEM_REF
    if isinstance(node, dict):
        return {key: _fold_problems(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_fold_problems(value) for value in node]
    return node
