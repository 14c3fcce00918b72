"""The process's live lists: cohorts by normalised query, one poller per interval, caps.

Every ``interval`` the poller asks the change signal for the tokens of all its cohorts'
resources in one read (``Signals.tokens``), then re-reads only the pages whose token
moved (or has none: no trustworthy signal). N idle watchers of a table cost one probe
per interval, not N. A cohort without watchers lingers a few intervals, so a client that
reconnects resumes from the ring; then it is freed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crud.http.errors import Problem
from crud.http.live.cohort import Cohort, Subscriber

__all__ = ["Hub", "LiveLimits", "LiveStats", "TokenSource", "TooManyWatchers"]

logger = logging.getLogger("crud.live")
# How long a cohort without watchers is kept for a reconnecting client: intervals, and
# seconds at least (EventSource reconnects after its retry delay, 2 s here).
LINGER_INTERVALS = 5
LINGER_MIN_S = 4.0
RING_SIZE = 512

class TokenSource(Protocol):
    """``crud.sql.signals.Signals``: one change-signal read for several resources."""

    async def tokens(self, resources: Iterable[str], *, max_age_s: float = 0.0,
                     fresh: bool = False) -> Mapping[str, Any]: ...

class TooManyWatchers(Problem):
    status = 429

@dataclass(frozen=True)
class LiveLimits:
    max_subscribers: int = 10_000  # per process
    max_per_client: int = 100  # per client address
    backlog: int = 1000  # events queued for one slow client before it is dropped
    heartbeat_s: float = 15.0

@dataclass
class LiveStats:
    """What /metrics reports (crud.ops.metrics reads these)."""

    probes: int = 0  # change-signal reads (one per round, for every cohort of an interval)
    polls: int = 0  # cohort polls (a change probe answered for it)
    reads: int = 0  # page statements run (the probe said something moved)
    events: int = 0  # events sent to clients
    dropped: int = 0  # clients dropped for falling behind
    refused: int = 0  # watches refused by a cap

class Hub:
    """Cohorts and their pollers; ``subscribe``/``unsubscribe`` for the streams."""

    def __init__(self, limits: LiveLimits, signals: TokenSource | None) -> None:
        self.limits = limits
        self.signals = signals
        self.stats = LiveStats()
        self.cohorts: dict[Hashable, Cohort] = {}
        self.starting: dict[Hashable, asyncio.Future[Cohort]] = {}
        self.pollers: dict[float, asyncio.Task[None]] = {}
        self.clients: dict[str, int] = {}
        self.subscribers = 0

    def __repr__(self) -> str:
        return (f"Hub(cohorts={len(self.cohorts)}, subscribers={self.subscribers}, "
                f"{self.limits!r})")

    def admit(self, client: str) -> None:
        """Refuse a watch over the caps, with a problem that says which and what to do."""
        limits = self.limits
        if self.subscribers >= limits.max_subscribers:
            self.stats.refused += 1
            raise TooManyWatchers(
                f"This server already streams {self.subscribers} watched lists "
                f"(CRUD_LIVE_MAX_SUBSCRIBERS); poll the list or retry later.",
                headers={"Retry-After": "5"})
        if self.clients.get(client, 0) >= limits.max_per_client:
            self.stats.refused += 1
            raise TooManyWatchers(
                f"This client already watches {limits.max_per_client} lists "
                f"(CRUD_LIVE_MAX_PER_CLIENT); close one first.", headers={"Retry-After": "5"})

    async def cohort(self, key: Hashable, make: Callable[[], Cohort]) -> Cohort:
        """The cohort of ``key``, started (its first page read) if new; concurrent first
        watchers of one query share that read."""
        found = self.cohorts.get(key)
        if found is not None:
            return found
        pending = self.starting.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Cohort] = asyncio.get_running_loop().create_future()
        self.starting[key] = future
        try:
            cohort = make()
            await cohort.start()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self.starting[key]
        self.cohorts[key] = cohort
        future.set_result(cohort)
        self._ensure_poller(cohort.interval_s)
        return cohort

    def subscribe(self, cohort: Cohort, client: str,
                  resume: tuple[str, int] | None) -> Subscriber:
        self.admit(client)  # again: others may have joined while the page was read
        subscriber = Subscriber(self.limits.backlog, client)
        cohort.join(subscriber, resume)
        self.subscribers += 1
        self.clients[client] = self.clients.get(client, 0) + 1
        return subscriber

    def unsubscribe(self, cohort: Cohort, subscriber: Subscriber) -> None:
        cohort.leave(subscriber)
        self.subscribers -= 1
        left = self.clients.get(subscriber.client, 1) - 1
        if left > 0:
            self.clients[subscriber.client] = left
        else:
            self.clients.pop(subscriber.client, None)

    def _ensure_poller(self, interval_s: float) -> None:
        task = self.pollers.get(interval_s)
        if task is None or task.done():
            self.pollers[interval_s] = asyncio.create_task(self._poll_every(interval_s))

    async def _poll_every(self, interval_s: float) -> None:
        while True:
            started = time.monotonic()
            cohorts = [c for c in self.cohorts.values() if c.interval_s == interval_s]
            self._free_idle(cohorts, started)
            cohorts = [c for c in cohorts if c.key in self.cohorts]
            if not cohorts:
                del self.pollers[interval_s]
                return
            await self.poll(cohorts)
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))

    def _free_idle(self, cohorts: list[Cohort], now: float) -> None:
        for cohort in cohorts:
            idle = cohort.idle_since
            linger = max(LINGER_INTERVALS * cohort.interval_s, LINGER_MIN_S)
            if idle is not None and now - idle >= linger:
                del self.cohorts[cohort.key]

    async def poll(self, cohorts: list[Cohort]) -> None:
        """One round: one token read for every resource, then the pages that moved."""
        tokens = await self._tokens({cohort.resource for cohort in cohorts})
        await asyncio.gather(*(self._poll_one(cohort, tokens.get(cohort.resource))
                               for cohort in cohorts))

    async def _tokens(self, resources: set[str]) -> Mapping[str, Any]:
        if self.signals is None:
            return {}
        self.stats.probes += 1
        try:
            # fresh: a token that may not count a recent commit yet is None (read the page)
            return await self.signals.tokens(sorted(resources), fresh=True)
        except Exception:  # a probe that fails is no signal: read the pages
            logger.warning("change signal unavailable", exc_info=True)
            return {}

    async def _poll_one(self, cohort: Cohort, token: Any) -> None:
        self.stats.polls += 1
        try:
            events = await cohort.poll(token)
        except Exception as error:  # the database is down: try again next interval
            logger.warning("live %s: poll failed: %s", cohort.resource, error)
            return
        if events is None:
            return
        self.stats.reads += 1
        if events:
            self.stats.dropped += len(cohort.publish(events))

    def end_streams(self) -> None:
        """Close every open stream: a reload retires this app (clients reconnect to the
        next one, which has no ring for them: they refetch)."""
        for cohort in self.cohorts.values():
            for subscriber in cohort.subscribers:
                subscriber.close()

    async def close(self) -> None:
        """End the streams and stop the pollers (the app's shutdown)."""
        self.end_streams()
        tasks = list(self.pollers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.pollers.clear()
