"""Where rollups are kept between refreshes: in this process, or shared through Redis.

Over the one shared store (``crud.sql.store``, ``CRUD_CACHE_URL``). In process (the default)
nothing leaves the process: each process maintains its own rollups. With Redis, one instance
holds a rollup's lock (``SET NX PX`` on the store's client, renewed while it maintains,
expiring when it stops) and publishes each snapshot with its version; the others load a
snapshot when the version moves. Keys are named after the rollup's definition, so two
registries on one Redis never read each other's rollups.
"""

from __future__ import annotations

import uuid
from typing import Any

from crud.sql.rollupdata import Snapshot, decode, encode
from crud.sql.store import Store

__all__ = ["RollupStore"]

# Extends a lock only while this instance holds it (compare and set, atomically).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# How long a published rollup stays in Redis without a new version (its maintainer gone).
_KEPT_S = 7 * 86_400


class RollupStore:
    """The rollups' view of the shared store: locks, versions and snapshots."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Only Redis is shared; its client takes the lock commands the Store interface lacks.
        self.client: Any = getattr(store, "client", None) if store.name == "redis" else None
        self.prefix: str = getattr(store, "prefix", "")
        self.owner = uuid.uuid4().hex  # this instance, as its locks name it

    def __repr__(self) -> str:
        return f"RollupStore({self.store!r})"

    @property
    def shared(self) -> bool:
        return self.client is not None

    async def maintain(self, key: str, ttl_s: float) -> bool:
        """Whether this instance maintains the rollup ``key`` now (taking or renewing its lock)."""
        if self.client is None:
            return True
        lock, ttl_ms = f"{self.prefix}{key}:lock", int(ttl_s * 1000)
        if await self.client.set(lock, self.owner, nx=True, px=ttl_ms):
            return True
        return bool(await self.client.eval(_RENEW, 1, lock, self.owner, ttl_ms))

    async def publish(self, key: str, snapshot: Snapshot) -> int:
        """Make ``snapshot`` the current one for every instance; the bytes it takes there."""
        if self.client is None:
            return 0  # the keeper holds it itself
        data = encode(snapshot)
        await self.store.set(f"{key}:data", data, ttl_s=_KEPT_S)
        await self.store.set(f"{key}:version", str(snapshot.version).encode(), ttl_s=_KEPT_S)
        return len(data)

    async def version(self, key: str) -> int | None:
        if self.client is None:
            return None
        found = await self.store.get(f"{key}:version")
        return int(found) if found is not None else None

    async def load(self, key: str) -> Snapshot | None:
        if self.client is None:
            return None
        data = await self.store.get(f"{key}:data")
        return decode(data) if data is not None else None

    async def close(self) -> None:
        await self.store.close()
