"""A first-come, first-served line in front of the pool: no newcomer overtakes a waiter.

The reader keeps returned connections in an idle list of its own, and SQLAlchemy's async
pool queue sends a woken waiter to the back of the line when a newcomer took the connection
first; either way, under load a request already waiting could wait out the whole pool
timeout (a 503 on a healthy database) while newcomers were served in milliseconds. The gate
admits as many holders as the pool lends connections and hands a leaving holder's place to
the oldest waiter directly, so nobody can take it in between.
"""

from __future__ import annotations

import asyncio
from collections import deque

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

__all__ = ["Gate", "pool_limits"]


class Gate:
    """At most ``slots`` holders at once (None: no limit); the rest wait in arrival order."""

    def __init__(self, slots: int | None, wait_s: float) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self.free = slots or 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"Gate(slots={self.slots}, free={self.free}, waiting={len(self.waiters)})"

    async def enter(self) -> None:
        """Take a place, waiting in line; ``TimeoutError`` after ``wait_s`` seconds."""
        if self.slots is None:
            return
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_s):
                await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # handed a place just as it gave up: pass the place on
            else:
                waiter.cancel()
                if waiter in self.waiters:  # leave() may have dropped it, cancelled, already
                    self.waiters.remove(waiter)
            raise

    def leave(self) -> None:
        """Give the place to the oldest waiter, or back to the free ones."""
        if self.slots is None:
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


def pool_limits(engine: AsyncEngine) -> tuple[int | None, float]:
    """How many connections ``engine``'s pool lends at most, and how long it lets one wait."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None, 0.0
    # SQLAlchemy has no public accessor for the overflow limit; -1 means unlimited.
    overflow = int(getattr(pool, "_max_overflow", -1))
    return (None if overflow < 0 else pool.size() + overflow), pool.timeout()
