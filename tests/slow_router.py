"""A hand-written router for test_reloading: a request that is still running during a reload."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.ops.extensions import app_engine

__all__ = ["router"]

router = APIRouter()


@router.get("/slow", operation_id="slow", summary="Answers after `seconds`, from the database")
async def slow(engine: Annotated[AsyncEngine, Depends(app_engine)],
               seconds: float = 1.0) -> dict[str, int]:
    await asyncio.sleep(seconds)
    # After the sleep: the old app's engine must still be there when its request goes on.
    async with engine.connect() as connection:
        answer = await connection.scalar(text("SELECT 42"))
    return {"answer": int(answer)}
