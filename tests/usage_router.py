"""A hand-written router for test_routers: an aggregation no registry entry can express."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.ops.extensions import app_engine
from resources.models import KojiBuildTargetModel

__all__ = ["not_a_router", "router"]

router = APIRouter(prefix="/usage", tags=["usage"])
not_a_router = {"prefix": "/usage"}


class StatusCount(BaseModel):
    status: str = Field(description="Build status")
    builds: int = Field(description="Koji builds with that status")


@router.get("/koji-builds-per-status", response_model=list[StatusCount],
            operation_id="koji_builds_per_status", summary="Koji builds counted per status")
async def koji_builds_per_status(
    engine: Annotated[AsyncEngine, Depends(app_engine)],
) -> list[StatusCount]:
    status = KojiBuildTargetModel.status
    statement = select(status, func.count()).group_by(status)
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    # Sorted here: enum columns sort by declaration order on some backends, by text on others.
    counts = sorted((row[0].value, row[1]) for row in rows)
    return [StatusCount(status=name, builds=builds) for name, builds in counts]
