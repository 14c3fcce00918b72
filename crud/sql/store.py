"""Where computed answers are kept: in this process (LRU by bytes) or in Redis.

One small interface for every user of a shared store (the result cache, rollups, live
lists): bytes in, bytes out, under a string key, with an optional time to live. The
in-process backend is the default; ``CRUD_CACHE_URL=redis://host:port/db`` keeps entries in
Redis instead, so several instances (or workers) share them. Values are opaque bytes: the
caller encodes (orjson) and decodes. A Redis store that cannot be reached answers misses
and drops writes (the cache is an optimisation, never a reason to fail a request).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Protocol

__all__ = ["DEFAULT_MAX_BYTES", "MemoryStore", "RedisStore", "Store", "open_store"]

# The in-process store's bound: the sum of its keys' and values' lengths.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_log = logging.getLogger("crud.cache")


class Store(Protocol):
    """Bytes under string keys, each for at most ``ttl_s`` seconds when given."""

    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """A process-local LRU bounded by bytes (the least recently read entries leave first)."""

    name = "memory"

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryStore(max_bytes={self.max_bytes}, size={self.size}, entries={len(self)})"

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        cost = len(key) + len(value)
        self._drop(key)
        if cost > self.max_bytes:
            return  # would evict everything else and still not fit
        expires = None if ttl_s is None else time.monotonic() + ttl_s
        self._entries[key] = (value, expires)
        self.size += cost
        while self.size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    async def delete(self, key: str) -> None:
        self._drop(key)

    async def close(self) -> None:
        self._entries.clear()
        self.size = 0

    def _drop(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self.size -= len(key) + len(found[0])


class RedisStore:
    """Entries in Redis (``redis`` package's asyncio client), shared by every instance.

    Keys carry ``prefix`` so one Redis can serve several APIs. The memory bound is Redis's
    own (``maxmemory`` with an LRU ``maxmemory-policy``); entries also expire after
    ``default_ttl_s`` unless a shorter time is given, so keys of old tokens do not pile up.
    """

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "crud:", default_ttl_s: float = 86_400,
                 client: Any = None) -> None:
        from redis.asyncio import Redis  # an optional dependency of the deployment

        self.url = url
        self.prefix = prefix
        self.default_ttl_s = default_ttl_s
        self.client: Redis = client if client is not None else Redis.from_url(url)

    def __repr__(self) -> str:
        return f"RedisStore({_without_password(self.url)!r}, prefix={self.prefix!r})"

    async def get(self, key: str) -> bytes | None:
        try:
            found = await self.client.get(self.prefix + key)
        except Exception as error:  # redis.RedisError or OSError: answered as a miss
            _unreachable(self, error)
            return None
        if found is None:
            return None
        return found.encode() if isinstance(found, str) else bytes(found)

    async def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None:
        ttl = self.default_ttl_s if ttl_s is None else min(ttl_s, self.default_ttl_s)
        try:
            await self.client.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))
        except Exception as error:  # redis.RedisError or OSError: an optimisation lost
            _unreachable(self, error)

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete(self.prefix + key)
        except Exception as error:
            _unreachable(self, error)

    async def close(self) -> None:
        await self.client.aclose()


def open_store(url: str | None, *, max_bytes: int = DEFAULT_MAX_BYTES,
               prefix: str = "crud:") -> Store:
    """The store ``url`` names (``redis://``, ``rediss://``, ``unix://``), else in-process."""
    if url is None or not url.strip():
        return MemoryStore(max_bytes=max_bytes)
    if url.split(":", 1)[0] not in ("redis", "rediss", "unix"):
        raise ValueError(f"CRUD_CACHE_URL: expected redis://host:port/db, got {url!r}")
    return RedisStore(url, prefix=prefix)


def _unreachable(store: RedisStore, error: BaseException) -> None:
    _log.warning("cache store %r unavailable: %s", store, type(error).__name__)


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
