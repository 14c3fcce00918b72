"""The result cache: totals, facets and aggregates kept until their tables change.

An answer is kept under what it depends on: the resource (and its registry entry), the
normalised query, the caller's auth scope, and the resource's change-signal token
(``crud.sql.signals``), read *before* the answer is computed so an answer is never labelled
with a newer token than its data. While the token is unchanged the kept answer is served;
a token of None (no trustworthy signal now) computes and keeps nothing.

One computation per key at a time: concurrent requests for the same key await the one in
flight (single-flight), each in its own task so a client that goes away does not cancel
the others' answer. With ``stale_s``, a request that finds an answer of an older token is
served it while one background computation refreshes it, for at most ``stale_s`` seconds
after the change was first seen. Entries live in a ``Store``: this process's memory (LRU by
bytes) or Redis (``CRUD_CACHE_URL``), shared by every instance.

Each resource also remembers the answers it served last, decoded, under the query itself
(``Remembered``): a repeat request under an unchanged token skips the key's digest, the
store's round trip and the decoding. Remembered answers are shared between requests: their
readers (the page, facet and aggregate bodies) build new objects from them and never change
them. An answer labelled with the current token is the answer for the current data whoever
computed it, so this is safe with a shared Redis too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from crud.sql.resultcodec import Codec
from crud.sql.store import Store

__all__ = ["CacheCounts", "Remembered", "ResourceResults", "ResultCache", "TokenSource"]

_log = logging.getLogger("crud.cache")


class TokenSource(Protocol):
    """What ``crud.sql.signals.Signals`` offers the cache: a resource's current token."""

    async def token(self, resource: str, *, max_age_s: float = 0.0) -> tuple[Any, ...] | None:
        ...


@dataclass
class CacheCounts:
    """How one resource's answers were served, by kind of answer (total, facets, ...)."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    # No trustworthy signal: computed and not kept.
    bypassed: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, kind: str) -> None:
        counts: dict[str, int] = getattr(self, outcome)
        counts[kind] = counts.get(kind, 0) + 1


@dataclass
class _Refresh:
    task: asyncio.Task[Any]
    since: float


class ResultCache:
    """One application's kept answers: a store, the change signals and the flights."""

    def __init__(self, store: Store, signals: TokenSource | None) -> None:
        self.store = store
        self.signals = signals
        self.counts: dict[str, CacheCounts] = {}
        self.flights: dict[str, asyncio.Task[Any]] = {}
        self.refreshes: dict[str, _Refresh] = {}

    def __repr__(self) -> str:
        return f"ResultCache({self.store!r})"

    def for_resource(self, resource: str, identity: str, *, stale_s: float | None = None,
                     signal_age_s: float = 0.0) -> ResourceResults:
        """The cache as one resource uses it; ``identity`` names its registry entry."""
        self.counts.setdefault(resource, CacheCounts())
        return ResourceResults(self, resource, identity, stale_s=stale_s,
                               signal_age_s=signal_age_s)

    async def close(self) -> None:
        for task in [*self.flights.values(), *(r.task for r in self.refreshes.values())]:
            task.cancel()
        await self.store.close()


MISSING = object()  # Remembered.get's "not remembered": an answer may be any value


class Remembered:
    """The last answers served, decoded, by query: at most ``size``, oldest dropped first."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self.entries: dict[Hashable, tuple[str, Any]] = {}

    def get(self, query: Hashable, label: str) -> Any:
        """The answer remembered under ``label``, else ``MISSING``."""
        entry = self.entries.get(query)
        return entry[1] if entry is not None and entry[0] == label else MISSING

    def put(self, query: Hashable, label: str, answer: Any) -> None:
        self.entries.pop(query, None)
        if len(self.entries) >= self.size:
            del self.entries[next(iter(self.entries))]
        self.entries[query] = (label, answer)


def frozen(value: Any) -> Hashable:
    """``value`` with its dicts and lists as tagged tuples: a key ``Remembered`` can hold."""
    if isinstance(value, dict):
        return ("{}", *((key, frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return ("[]" if isinstance(value, list) else "()", *(frozen(item) for item in value))
    return value  # type: ignore[no-any-return]


class ResourceResults:
    """One resource's view of the cache: ``answer(kind, key, compute, codec)``."""

    def __init__(self, cache: ResultCache, resource: str, identity: str, *,
                 stale_s: float | None, signal_age_s: float) -> None:
        self.cache = cache
        self.resource = resource
        self.identity = identity
        self.stale_s = stale_s
        self.signal_age_s = signal_age_s
        self.counts = cache.counts[resource]
        self.remembered = Remembered()

    def __repr__(self) -> str:
        return f"ResourceResults({self.resource!r}, stale_s={self.stale_s})"

    async def answer(self, kind: str, key: Hashable, compute: Callable[[], Awaitable[Any]],
                     codec: Codec[Any], *, scope: str = "", wait_s: float | None = None) -> Any:
        """The answer to ``key``: kept under the current token, or computed (once) and kept.

        ``wait_s`` bounds how long this caller waits for a computation: past it the caller
        gets ``TimeoutError`` while the computation goes on and is kept for the next one
        (a facet slower than its budget is answered from the second request on)."""
        token = await self._token()
        if token is None:
            self.counts.add("bypassed", kind)
            return await compute()
        label = repr(token)
        query = (kind, frozen(key), scope)
        remembered = self.remembered.get(query, label)
        if remembered is not MISSING:
            self.counts.add("hits", kind)
            return remembered
        name = self._name(kind, key, scope)
        entry = await self._read(name)
        if entry is not None and entry.get("t") == label:
            self.counts.add("hits", kind)
            value = codec.load(entry["v"])
            self.remembered.put(query, label, value)
            return value
        if entry is not None and self.stale_s is not None and self._may_serve_stale(name):
            self.counts.add("stale", kind)
            self._refresh(name, label, compute, codec)
            return codec.load(entry["v"])
        self.counts.add("misses", kind)
        flight = asyncio.shield(self._flight(name, label, compute, codec))
        return await (flight if wait_s is None else asyncio.wait_for(flight, wait_s))

    async def remembered_answer(self, kind: str, key: Hashable, *,
                                scope: str = "") -> Any | None:
        """The answer to ``key`` if this process served it under the current token, else
        None: nothing is computed or read from the store (a cheap first look)."""
        token = await self._token()
        if token is None:
            return None
        remembered = self.remembered.get((kind, frozen(key), scope), repr(token))
        if remembered is MISSING:
            return None
        self.counts.add("hits", kind)
        return remembered

    async def _token(self) -> tuple[Any, ...] | None:
        signals = self.cache.signals
        return (None if signals is None else
                await signals.token(self.resource, max_age_s=self.signal_age_s))

    def _name(self, kind: str, key: Hashable, scope: str) -> str:
        # repr of the normalised query: parameter values keep their types (1 is not '1').
        text = repr((self.identity, kind, key, scope)).encode()
        return f"r:{self.resource}:{kind}:{hashlib.sha256(text).hexdigest()[:40]}"

    async def _read(self, name: str) -> dict[str, Any] | None:
        raw = await self.cache.store.get(name)
        if raw is None:
            return None
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return entry if isinstance(entry, dict) else None

    def _may_serve_stale(self, name: str) -> bool:
        refresh = self.cache.refreshes.get(name)
        assert self.stale_s is not None
        return refresh is None or time.monotonic() - refresh.since <= self.stale_s

    def _refresh(self, name: str, label: str, compute: Callable[[], Awaitable[Any]],
                 codec: Codec[Any]) -> None:
        refreshes = self.cache.refreshes
        if name in refreshes:
            return
        task = self._flight(name, label, compute, codec)
        refreshes[name] = _Refresh(task, time.monotonic())

        def done(finished: asyncio.Task[Any]) -> None:
            refreshes.pop(name, None)
            if not finished.cancelled() and finished.exception() is not None:
                _log.warning("refreshing %s failed: %r", name, finished.exception())

        task.add_done_callback(done)

    def _flight(self, name: str, label: str, compute: Callable[[], Awaitable[Any]],
                codec: Codec[Any]) -> asyncio.Task[Any]:
        flights = self.cache.flights
        key = f"{name}@{label}"
        task = flights.get(key)
        if task is None:
            task = asyncio.ensure_future(self._compute(name, label, compute, codec))
            flights[key] = task
            task.add_done_callback(lambda _: flights.pop(key, None))
        return task

    async def _compute(self, name: str, label: str, compute: Callable[[], Awaitable[Any]],
                       codec: Codec[Any]) -> Any:
        value = await compute()
        try:
            encoded = orjson.dumps({"t": label, "v": codec.dump(value)})
        except (TypeError, ValueError):
            return value  # a value the codec cannot keep: answered, not kept
        await self.cache.store.set(name, encoded)
        return value
