"""Code the registry points at beside its tables: hand-written routers and mounted apps.

``routers: ["package.module:router"]`` adds ``fastapi.APIRouter`` objects under the API
prefix, in the same OpenAPI document, for endpoints no registry entry can express
(aggregations, merged views). Their handlers reach the application's read-only engine
through the ``app_engine`` dependency (``request.app.state.engine``). Generated routes are
included first, so a hand-written route never shadows one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.config.registry import Registry, RegistryError
from crud.config.yamlfile import LocatedData
from crud.model.binding import IssueCollector
from crud.ops.mounts import MountedApp, import_reference, resolve_mounts

__all__ = ["Extensions", "app_engine", "include_routers", "resolve_extensions", "resolve_routers"]


@dataclass(frozen=True)
class Extensions:
    """The registry's ``routers:`` and ``mounts:``, imported and checked."""

    routers: tuple[APIRouter, ...] = ()
    mounts: tuple[MountedApp, ...] = field(default=())


def app_engine(request: Request) -> AsyncEngine:
    """The API's read-only engine, for hand-written handlers: ``Depends(app_engine)``."""
    engine: AsyncEngine = request.app.state.engine
    return engine


def resolve_routers(references: Sequence[str], collector: IssueCollector) -> list[APIRouter]:
    routers = []
    for index, reference in enumerate(references):
        target = import_reference(reference, collector, ("routers", index))
        if target is None:
            continue
        if not isinstance(target, APIRouter):
            collector.add(("routers", index), f"{reference!r} is a {type(target).__name__}, "
                                              "expected a fastapi.APIRouter")
            continue
        routers.append(target)
    return routers


def resolve_extensions(registry: Registry, located: LocatedData, path: str) -> Extensions:
    """Import every router and mount; ``RegistryError`` listing all that fail."""
    collector = IssueCollector(path=path, located=located)
    routers = resolve_routers(registry.routers, collector)
    mounts = resolve_mounts(registry.mounts, collector)
    if collector.issues:
        raise RegistryError(collector.issues)
    return Extensions(routers=tuple(routers), mounts=tuple(mounts))


def include_routers(app: FastAPI, routers: Sequence[APIRouter], prefix: str,
                    options: Mapping[str, Any] | None = None) -> None:
    """Include ``routers`` under ``prefix``; ``options`` are more ``include_router`` arguments."""
    for router in routers:
        app.include_router(router, prefix=prefix, **(options or {}))
