"""Where rollups are kept between refreshes: in this process, or in Redis for every instance.

``MemoryStore`` (the default) keeps nothing outside the process: each process maintains its
own rollups. ``RedisStore`` (``CRUD_CACHE_URL=redis://...``) shares them: one instance holds
a rollup's lock (``SET NX PX``, renewed while it maintains, expiring when it stops) and
publishes each new snapshot with a version; the others read a snapshot when its version
moves. Keys carry a namespace derived from the rollup's definition, so two registries on one
Redis never read each other's rollups.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from crud.sql.rollupdata import Snapshot, decode, encode

__all__ = ["MemoryStore", "RedisStore", "RollupStore", "store_for"]

# Extends a lock only while this instance holds it (compare and set, atomically).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class RollupStore(Protocol):
    shared: bool

    async def maintain(self, key: str, ttl_s: float) -> bool:
        """Whether this instance maintains the rollup ``key`` now (taking or renewing a lock)."""
        ...

    async def publish(self, key: str, snapshot: Snapshot) -> int:
        """Make ``snapshot`` the rollup's current one; the size it takes, in bytes."""
        ...

    async def version(self, key: str) -> int | None:
        """The published snapshot's version (None: none yet)."""
        ...

    async def load(self, key: str) -> Snapshot | None:
        ...

    async def close(self) -> None:
        ...


class MemoryStore:
    """Nothing shared: this process maintains every rollup and keeps it in memory."""

    shared = False

    def __repr__(self) -> str:
        return "MemoryStore()"

    async def maintain(self, key: str, ttl_s: float) -> bool:
        return True

    async def publish(self, key: str, snapshot: Snapshot) -> int:
        return 0  # the keeper holds the snapshot itself

    async def version(self, key: str) -> int | None:
        return None

    async def load(self, key: str) -> Snapshot | None:
        return None

    async def close(self) -> None:
        return None


class RedisStore:
    """Rollups shared through Redis: one maintainer per rollup, every instance a reader."""

    shared = True

    def __init__(self, url: str) -> None:
        try:
            from redis.asyncio import Redis  # optional: only a shared store needs it
        except ImportError as error:  # pragma: no cover - depends on the installation
            raise RuntimeError("CRUD_CACHE_URL names Redis; install the client: "
                               "pip install 'crud[redis]'") from error
        self.url = url
        self.client: Any = Redis.from_url(url)
        self.owner = uuid.uuid4().hex  # this instance, as its locks name it

    def __repr__(self) -> str:
        return f"RedisStore(owner={self.owner[:8]})"

    async def maintain(self, key: str, ttl_s: float) -> bool:
        lock, ttl_ms = f"{key}:lock", int(ttl_s * 1000)
        if await self.client.set(lock, self.owner, nx=True, px=ttl_ms):
            return True
        return bool(await self.client.eval(_RENEW, 1, lock, self.owner, ttl_ms))

    async def publish(self, key: str, snapshot: Snapshot) -> int:
        data = encode(snapshot)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(f"{key}:data", data)
            pipe.set(f"{key}:version", snapshot.version)
            await pipe.execute()
        return len(data)

    async def version(self, key: str) -> int | None:
        found = await self.client.get(f"{key}:version")
        return int(found) if found is not None else None

    async def load(self, key: str) -> Snapshot | None:
        data = await self.client.get(f"{key}:data")
        return decode(data) if data is not None else None

    async def close(self) -> None:
        await self.client.aclose()


def store_for(url: str | None) -> RollupStore:
    """The store ``CRUD_CACHE_URL`` names (``redis://``, ``rediss://``); in-process otherwise."""
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    return MemoryStore()
