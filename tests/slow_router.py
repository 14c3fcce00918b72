"""A hand-written router for test_reloading: a request that is still running during a reload."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.ops.extensions import app_engine

__all__ = ["router"]

router = APIRouter()


@router.get("/slow", operation_id="slow",
            summary="Answers from the database once the file `release` exists (or after `seconds`)")
async def slow(engine: Annotated[AsyncEngine, Depends(app_engine)],
               seconds: float = 1.0, release: str | None = None) -> dict[str, int]:
    # Released by the test rather than timed: a reload on a loaded machine may take longer
    # than any fixed sleep, and the request must still be running when it lands.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (release and Path(release).exists()):
        await asyncio.sleep(0.05)
    # After the sleep: the old app's engine must still be there when its request goes on.
    async with engine.connect() as connection:
        answer = await connection.scalar(text("SELECT 42"))
    return {"answer": int(answer)}
