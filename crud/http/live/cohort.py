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

from crud.http.live.diff import PageRows, changes, page_rows, row_event
from crud.http.live.events import Event, Ring
from crud.http.live.tail import Tail

__all__ = ["Cohort", "Subscriber", "TailCohort"]

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
        self.snapshot_seq = 0  # the event the body is current at (a tail's lags behind)
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

    @property
    def stale(self) -> bool:
        """The ring no longer holds every event since the body was read."""
        return self.ring.since(self.snapshot_seq, self.seq) is None

    async def refresh(self) -> None:
        """Read the body again (for a newcomer to a tail the ring cannot bring up to date);
        rows that arrive meanwhile may come again as events: clients key rows by key."""
        seq = self.seq
        self.body = await self.fetch()
        self.snapshot_seq = seq

    def join(self, subscriber: Subscriber, resume: tuple[str, int] | None) -> None:
        """Queue what ``subscriber`` needs first: the events it missed, or the snapshot
        (after a ``refetch`` when it asked to resume from what the ring no longer holds)
        and the events since the snapshot was read."""
        self.subscribers.add(subscriber)
        self.idle_since = None
        if resume is not None:
            epoch, seq = resume
            missed = self.ring.since(seq, self.seq) if epoch == self.epoch else None
            if missed is not None:
                for event in missed:
                    subscriber.push(event)
                return
            subscriber.push(Event(self.epoch, self.snapshot_seq, "refetch", b"{}"))
        subscriber.push(Event(self.epoch, self.snapshot_seq, "snapshot", self.body))
        for event in self.ring.since(self.snapshot_seq, self.seq) or ():
            subscriber.push(event)

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
        events = self.record(found)
        self.snapshot_seq = self.seq
        return events

    def record(self, found: Sequence[tuple[str, bytes]]) -> list[Event]:
        """Number ``found`` (name, data) as the cohort's next events, kept in the ring."""
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


class TailCohort(Cohort):
    """A tail (``crud.http.live.tail``): new rows at the head only, by keyset seek."""

    def __init__(self, key: Hashable, resource: str, interval_s: float, fetch: Fetch,
                 tail: Tail, *, ring_size: int) -> None:
        super().__init__(key, resource, interval_s, fetch, tail.key_names, ring_size=ring_size)
        self.tail = tail
        self.head: tuple[Any, ...] | None = None

    async def start(self) -> None:
        # The head first: a row inserted between the two reads then comes again as an
        # event (clients key rows), rather than never.
        self.head = await self.tail.head()
        await super().start()

    async def poll(self, token: Any) -> list[Event] | None:
        if token is not None and token == self.token:
            return None
        found = await self.tail.newer(self.head)
        self.token = token
        if found.overflow:  # more than a page at once: start over from the head
            self.head = await self.tail.head()
            events = self.record([("refetch", b"{}")])
            self.body = await self.fetch()
            events += self.record([("snapshot", self.body)])
            self.snapshot_seq = self.seq
            return events
        self.head = found.head
        return self.record([("added", row_event(key, item, 0)) for key, item in found.rows])
