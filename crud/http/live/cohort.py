"""A cohort: every watcher of one normalised list query, fed by one poller.

The cohort keeps the page as last read (its body for newcomers' ``snapshot``, its rows
keyed for the diff) and a ring of recent events for clients that reconnect. Watchers are
``Subscriber`` queues: publishing never waits for a client; one that falls ``backlog``
events behind is dropped (it reconnects with ``Last-Event-ID``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from crud.http.live.diff import PageRows, changes, page_rows
from crud.http.live.events import Event, Ring

__all__ = ["Cohort", "Subscriber"]

Fetch = Callable[[], Awaitable[bytes]]


class Subscriber:
    """One watcher's pending events; ``wake`` is set whenever there is news."""

    def __init__(self, backlog: int, client: str) -> None:
        self.pending: deque[Event] = deque()
        self.backlog = backlog
        self.client = client
        self.dropped = False
        self.closed = False
        self.wake = asyncio.Event()

    @property
    def ended(self) -> bool:
        return self.dropped or self.closed

    def close(self) -> None:
        """End the stream (the server is going away; the client reconnects)."""
        self.closed = True
        self.wake.set()

    def push(self, event: Event) -> bool:
        """Queue ``event``; False (and dropped) when the client is too far behind."""
        if self.dropped:
            return False
        if len(self.pending) >= self.backlog:
            self.dropped = True
            self.pending.clear()
        else:
            self.pending.append(event)
        self.wake.set()
        return not self.dropped

    def take(self) -> list[Event]:
        events = list(self.pending)
        self.pending.clear()
        self.wake.clear()
        return events


class Cohort:
    """The shared state of one watched query; the hub polls it, subscribers read it."""

    def __init__(self, key: Hashable, resource: str, interval_s: float, fetch: Fetch,
                 key_names: Sequence[str], *, ring_size: int) -> None:
        self.key = key
        self.resource = resource
        self.interval_s = interval_s
        self.fetch = fetch
        self.key_names = tuple(key_names)
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.body = b""
        self.rows = PageRows()
        self.token: Any = None  # the change signal the page was read under
        self.ring = Ring(ring_size)
        self.subscribers: set[Subscriber] = set()
        self.idle_since: float | None = time.monotonic()

    def __repr__(self) -> str:
        return (f"Cohort({self.resource!r}, epoch={self.epoch!r}, seq={self.seq}, "
                f"subscribers={len(self.subscribers)})")

    async def start(self) -> None:
        """The first read: raises the list's own problems (400, 401, 503) to the caller."""
        body = await self.fetch()
        self.rows = page_rows(body, self.key_names)
        self.body = body

    def join(self, subscriber: Subscriber, resume: tuple[str, int] | None) -> None:
        """Queue what ``subscriber`` needs first: the events it missed, or the snapshot
        (after a ``refetch`` when it asked to resume from what the ring no longer holds)."""
        self.subscribers.add(subscriber)
        self.idle_since = None
        if resume is not None:
            epoch, seq = resume
            missed = self.ring.since(seq, self.seq) if epoch == self.epoch else None
            if missed is not None:
                for event in missed:
                    subscriber.push(event)
                return
            subscriber.push(Event(self.epoch, self.seq, "refetch", b"{}"))
        subscriber.push(Event(self.epoch, self.seq, "snapshot", self.body))

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            self.idle_since = time.monotonic()

    async def poll(self, token: Any) -> list[Event] | None:
        """Re-read the page unless ``token`` says nothing moved; the events published.

        None: not read (the signal is unchanged). ``token`` was read before the page, so
        the page is kept under it (a change racing the read shows in the next token)."""
        if token is not None and token == self.token:
            return None
        body = await self.fetch()
        self.token = token
        rows = page_rows(body, self.key_names)
        found = changes(self.rows, rows)
        self.rows, self.body = rows, body
        events = []
        for name, data in found:
            self.seq += 1
            event = Event(self.epoch, self.seq, name, data)
            self.ring.add(event)
            events.append(event)
        return events

    def publish(self, events: Sequence[Event]) -> list[Subscriber]:
        """Hand ``events`` to every subscriber; the ones dropped for falling behind."""
        dropped = []
        for subscriber in list(self.subscribers):
            for event in events:
                if not subscriber.push(event):
                    dropped.append(subscriber)
                    self.leave(subscriber)
                    break
        return dropped
