"""Page statements reused by shape: the display SELECT is built once per query shape.

A list page is a small inner SELECT (keys, filters, order, LIMIT/OFFSET) wrapped in the
display SELECT (every field, the derived-field subqueries and their joins). Building that
wrapper and letting SQLAlchemy walk it for its compiled-cache key cost about a third of
the list path's CPU (bench/RESULTS.md). Requests whose inner statements have the same
shape (same filters, search and order; any values) share one wrapper: the inner
statement's cache key names the shape and lists its bound values in a fixed order, so a
new request's values map onto the first request's parameters by position. That is what
SQLAlchemy does itself on a compiled-cache hit; ``_generate_cache_key`` is its (underscored
but documented) way in, used here only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.sql.elements import BindParameter

__all__ = ["ShapeCache"]

Template = tuple[Select[Any], Sequence[BindParameter[Any]]]


class ShapeCache:
    """``wrap()`` memoized by the shape of ``inner``: the statement and its parameters."""

    def __init__(self, *, capacity: int = 256) -> None:
        # Shapes are bounded by the registry (filters x operators x sort keys) but not
        # small; past capacity new shapes are simply built per request, as without a cache.
        self.capacity = capacity
        self.templates: dict[Any, Template] = {}

    def __call__(self, inner: Select[Any], wrap: Callable[[], Select[Any]]
                 ) -> tuple[Select[Any], dict[str, Any]]:
        """``wrap`` builds the whole statement around ``inner``; it runs once per shape."""
        key = inner._generate_cache_key()
        if key is None:  # something in it is not cacheable: build it every time
            return wrap(), {}
        found = self.templates.get(key.key)
        if found is None:
            statement = wrap()
            if len(self.templates) < self.capacity:
                self.templates[key.key] = (statement, key.bindparams)
            return statement, {}
        statement, originals = found
        return statement, {original.key: given.effective_value
                           for original, given in zip(originals, key.bindparams, strict=True)}

    def __repr__(self) -> str:
        return f"ShapeCache({len(self.templates)}/{self.capacity} shapes)"
