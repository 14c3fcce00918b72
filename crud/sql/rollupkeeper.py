"""Keeping rollups fresh in the background, and answering from them.

After start, each rollup is built in chunks of time, each one statement under the statement
budget (a chunk that runs out of time is halved and read again; a quick one lets the next
grow); requests meanwhile run live. Then every ``refresh`` the buckets from the watermark
(the latest bucket seen) minus ``late`` are re-read and replace the kept ones, and every
``full`` a full pass rebuilds the whole rollup (changes older than ``late`` reach it then).
With a shared store one instance maintains each rollup and the others load what it
publishes. Nothing here writes to the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crud.model.fields import Leaf
from crud.model.resource import Resource
from crud.model.rollups import Rollup
from crud.sql.aggregates import AggregateRequest, Groups
from crud.sql.reader import StatementTimeout
from crud.sql.requests import Selection
from crud.sql.rollupanswers import Answers, covers_groups, covers_selection
from crud.sql.rollupdata import Key, Layout, Snapshot, State, merged, truncate
from crud.sql.rollupreads import RollupReads
from crud.sql.rollupstore import RollupStore
from crud.sql.signals import Signals, Token

__all__ = ["Kept", "KeptRollup", "ResourceRollups", "RollupKeeper"]

log = logging.getLogger("crud.rollups")

_ANSWERS_KEPT = 256  # answers remembered per snapshot (the same chart again is a lookup)
_MIN_STEP = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
             "week": dt.timedelta(days=7), "month": dt.timedelta(days=32),
             "year": dt.timedelta(days=366)}
_CHUNKS = 16  # a first build reads the span in about this many statements
_RETRY_S = 5.0  # after a failed refresh, before the next attempt


@dataclass
class Progress:
    """What /metrics and the log say about one rollup."""

    state: str = "waiting"  # waiting | building | ready | following
    built_fraction: float = 0.0
    rows: int = 0
    bytes: int = 0
    last_refresh_s: float = 0.0
    last_full_s: float = 0.0
    refreshes: int = 0
    skipped: int = 0  # refreshes skipped: the change signal said nothing moved
    full_passes: int = 0
    failures: int = 0
    chunks: int = 0


@dataclass(frozen=True)
class Kept:
    """An answer from a rollup: which one, and when its data was read."""

    name: str
    read_at: float


@dataclass(eq=False)
class KeptRollup:
    """One rollup of one resource: its reads, its current snapshot, its progress."""

    resource: str
    rollup: Rollup
    reads: RollupReads
    key: str
    answers: Answers = field(init=False)
    snapshot: Snapshot | None = None
    progress: Progress = field(default_factory=Progress)
    token: Token | None = None  # the change signal the snapshot was read under

    def __post_init__(self) -> None:
        self.answers = Answers(self.rollup)

    def __repr__(self) -> str:
        return f"KeptRollup({self.resource!r}, {self.rollup.name!r})"


def store_key(resource: Resource, rollup: Rollup) -> str:
    """The rollup's keys' prefix in a shared store: named after its definition."""
    spec = resource.spec.rollups[rollup.name].model_dump_json()
    source = f"{resource.name}|{resource.entity.label}|{spec}".encode()
    return f"crud:rollup:{resource.name}:{rollup.name}:{hashlib.sha256(source).hexdigest()[:12]}"


class ResourceRollups:
    """The rollups of one resource, as its ``/aggregate`` and facets ask them."""

    def __init__(self, kept: Sequence[KeptRollup]) -> None:
        self.kept = tuple(kept)

    def __repr__(self) -> str:
        return f"ResourceRollups({[item.rollup.name for item in self.kept]})"

    def groups(self, request: AggregateRequest) -> tuple[Groups, Kept] | None:
        found = self._choose(lambda rollup: covers_selection(rollup, request.selection)
                             and covers_groups(rollup, request))
        if found is None:
            return None
        item, snapshot = found
        key = ("groups", _request_key(request))
        groups = snapshot.answers.get(key)
        if groups is None:
            groups = item.answers.groups(snapshot, request)
            _remember(snapshot, key, groups)
        return groups, Kept(item.rollup.name, snapshot.read_at)

    def facets(self, selection: Selection, leaves: Sequence[Leaf], size: int
               ) -> tuple[dict[str, list[tuple[Any, int]]], Kept] | None:
        """Every asked facet from one rollup, or None (then they all run live)."""
        found = self._choose(lambda rollup: covers_selection(rollup, selection)
                             and all(rollup.covers(leaf) for leaf in leaves))
        if found is None:
            return None
        item, snapshot = found
        values = {}
        for leaf in leaves:
            key = ("facet", leaf.name, size, _selection_key(selection))
            pairs = snapshot.answers.get(key)
            if pairs is None:
                pairs = item.answers.facet(snapshot, selection, leaf.name, size)
                _remember(snapshot, key, pairs)
            values[leaf.name] = pairs
        return values, Kept(item.rollup.name, snapshot.read_at)

    def counts(self, field_: str | None, *, since: dt.datetime | None = None,
               until: dt.datetime | None = None) -> tuple[dict[Any, int], Kept] | None:
        """Rows per value of the dimension ``field_`` (None: all rows, under the key None)
        with ``since <= time < until`` (naive UTC, at the rollup's bucket edges), from the
        smallest ready rollup keeping it; None while none is ready (for hand-written routers)."""
        found = self._choose(lambda rollup: field_ is None or field_ in rollup.dimensions)
        if found is None:
            return None
        item, snapshot = found
        key = ("counts", field_, since, until)
        counts = snapshot.answers.get(key)
        if counts is None:
            counts = item.answers.counts(snapshot, field_, since, until)
            if counts is None:
                return None
            _remember(snapshot, key, counts)
        return counts, Kept(item.rollup.name, snapshot.read_at)

    def spans(self, field_: str, edges: Sequence[dt.datetime]
              ) -> tuple[list[dict[Any, int]], Kept] | None:
        """Rows per value of the dimension ``field_`` in each span between consecutive
        ``edges`` (ascending, naive UTC, at bucket edges), in one pass over the rollup."""
        found = self._choose(lambda rollup: field_ in rollup.dimensions)
        if found is None:
            return None
        item, snapshot = found
        key = ("spans", field_, tuple(edges))
        spans = snapshot.answers.get(key)
        if spans is None:
            spans = item.answers.spans(snapshot, field_, edges)
            if spans is None:
                return None
            _remember(snapshot, key, spans)
        return spans, Kept(item.rollup.name, snapshot.read_at)

    def _choose(self, covers: Any) -> tuple[KeptRollup, Snapshot] | None:
        # The smallest ready rollup that covers the request: fewest rows to fold.
        ready = [(item, item.snapshot) for item in self.kept
                 if item.snapshot is not None and covers(item.rollup)]
        if not ready:
            return None
        return min(ready, key=lambda pair: len(pair[1].entries))


def _remember(snapshot: Snapshot, key: Any, answer: Any) -> None:
    if len(snapshot.answers) >= _ANSWERS_KEPT:
        snapshot.answers.clear()
    snapshot.answers[key] = answer


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple | set | frozenset) else value


def _selection_key(selection: Selection) -> Any:
    return tuple((item.param.name, _hashable(item.value)) for item in selection.filters)


def _request_key(request: AggregateRequest) -> Any:
    return (_selection_key(request.selection),
            tuple((key.name, key.bucket) for key in request.groups),
            tuple(metric.name for metric in request.metrics),
            tuple((item.metric.name, item.operator.name, item.value) for item in request.having),
            request.order, request.limit, request.offset)


class RollupKeeper:
    """Runs every rollup's maintenance as background tasks (``start``/``stop``)."""

    def __init__(self, kept: Sequence[KeptRollup], store: RollupStore,
                 signals: Signals | None = None) -> None:
        self.kept = tuple(kept)
        self.resources: dict[str, ResourceRollups] = {}  # by resource name
        self.store = store
        self.signals = signals  # a refresh is skipped while the resource's tables stand still
        self.tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"RollupKeeper({len(self.kept)} rollups, {self.store!r})"

    def of(self, resource: str) -> ResourceRollups | None:
        """The rollups of ``resource`` (None: it declares none): the API routers use."""
        return self.resources.get(resource)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._run(item), name=f"rollup {item.key}")
                      for item in self.kept]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        await self.store.close()

    async def _run(self, item: KeptRollup) -> None:
        while True:
            pause = float(item.rollup.refresh_s)
            try:
                await self.step(item)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database away, a statement over budget
                item.progress.failures += 1
                log.warning("rollup %s.%s: refresh failed (%s); retrying",
                            item.resource, item.rollup.name, type(error).__name__)
                pause = min(pause, _RETRY_S)
            await asyncio.sleep(pause)

    async def step(self, item: KeptRollup) -> None:
        """One round: maintain (build, refresh or full pass) or follow the maintainer."""
        ttl = max(3.0 * item.rollup.refresh_s, 30.0)
        if not await self.store.maintain(item.key, ttl):
            await self._follow(item)
            return
        if item.snapshot is None and self.store.shared:
            item.snapshot = await self.store.load(item.key)  # take over where it was
        snapshot = item.snapshot
        # The token is read before the statements whose answers it will label.
        token = await self._token(item)
        if snapshot is None or time.time() - snapshot.full_at >= item.rollup.full_s:
            await self.build(item)
        elif token is not None and token == item.token:
            await self._unchanged(item, snapshot)
        else:
            await self.refresh(item, snapshot)
        item.token = token

    async def _token(self, item: KeptRollup) -> Token | None:
        if self.signals is None:
            return None
        # Not fresh: PostgreSQL's statistics may lag a commit by about a second, and a busy
        # cluster would never be "settled"; a commit the signal missed is read next time.
        return await self.signals.token(item.resource)

    async def _unchanged(self, item: KeptRollup, snapshot: Snapshot) -> None:
        # Nothing moved since the last read: the kept data is as fresh as this check.
        item.progress.skipped += 1
        await self._publish(item, snapshot.entries, time.time(), full_at=snapshot.full_at,
                            answers=snapshot.answers)

    async def _follow(self, item: KeptRollup) -> None:
        item.progress.state = "following"
        version = await self.store.version(item.key)
        if version is not None and (item.snapshot is None or item.snapshot.version != version):
            snapshot = await self.store.load(item.key)
            if snapshot is not None:
                item.snapshot = snapshot
                item.progress.rows = len(snapshot.entries)

    async def build(self, item: KeptRollup) -> None:
        """A full pass, in chunks of time; published whole at the end."""
        started, clock = time.time(), time.perf_counter()
        item.progress.state = "building" if item.snapshot is None else item.progress.state
        item.progress.built_fraction = 0.0
        layout = Layout.of(item.rollup)
        rows = await item.reads.rows(None, None, no_time=True)
        low, high = await item.reads.span()
        if low is not None:
            rows += await self._chunks(item, truncate(_utc(low), item.rollup.grain), _utc(high))
        entries = merged(layout, rows)
        item.progress.last_full_s = time.perf_counter() - clock
        item.progress.full_passes += 1
        await self._publish(item, entries, started, full_at=started)
        log.info("rollup %s.%s: full pass, %d rows in %.2f s", item.resource,
                 item.rollup.name, len(entries), item.progress.last_full_s)

    async def _chunks(self, item: KeptRollup, start: dt.datetime,
                      high: dt.datetime) -> list[tuple[Key, State]]:
        grain = item.rollup.grain
        total = max((high - start).total_seconds(), 1.0)
        step = max((high - start) / _CHUNKS, _MIN_STEP[grain])
        budget_s = (item.reads.budget_ms or 10_000) / 1000
        rows: list[tuple[Key, State]] = []
        while True:
            end = truncate(start + max(step, _MIN_STEP[grain]), grain)
            last = end > high
            clock = time.perf_counter()
            try:
                rows += await item.reads.rows(start, None if last else end)
            except StatementTimeout:
                if step <= _MIN_STEP[grain]:
                    raise
                step /= 2
                continue
            item.progress.chunks += 1
            if time.perf_counter() - clock < budget_s / 4:
                step *= 2
            if last:
                break
            start = end
            item.progress.built_fraction = min((start - (high - dt.timedelta(
                seconds=total))).total_seconds() / total, 0.99)
            await asyncio.sleep(0)  # requests go first
        return rows

    async def refresh(self, item: KeptRollup, snapshot: Snapshot) -> None:
        """Re-read the buckets from the watermark minus ``late``; keep the older ones."""
        started, clock = time.time(), time.perf_counter()
        start = None
        if snapshot.watermark is not None:
            start = truncate(snapshot.watermark - dt.timedelta(seconds=item.rollup.late_s),
                             item.rollup.grain)
        fresh = await item.reads.rows(start, None)
        entries = {key: state for key, state in snapshot.entries.items()
                   if start is not None and (key[0] is None or key[0] < start)}
        entries.update(merged(Layout.of(item.rollup), fresh))
        item.progress.last_refresh_s = time.perf_counter() - clock
        item.progress.refreshes += 1
        await self._publish(item, entries, started, full_at=snapshot.full_at)
        log.debug("rollup %s.%s: refreshed %d buckets in %.3f s", item.resource,
                  item.rollup.name, len(fresh), item.progress.last_refresh_s)

    async def _publish(self, item: KeptRollup, entries: dict[Key, State], read_at: float,
                       *, full_at: float, answers: dict[Any, Any] | None = None) -> None:
        buckets = [key[0] for key in entries if key[0] is not None]
        snapshot = Snapshot(entries, read_at, max(buckets) if buckets else None, full_at,
                            version=time.time_ns(), answers={} if answers is None else answers)
        item.progress.bytes = await self.store.publish(item.key, snapshot)
        item.snapshot = snapshot
        item.progress.rows = len(entries)
        item.progress.state, item.progress.built_fraction = "ready", 1.0


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
