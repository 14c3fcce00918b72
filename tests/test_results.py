"""The result cache's own rules, with a token source the test moves by hand.

(Over real databases and their change signals: tests/test_result_cache.py.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from crud.sql.resultcodec import Codec, plain, typed
from crud.sql.results import MISSING, Remembered, ResultCache
from crud.sql.store import MemoryStore

SAME = Codec(lambda value: value, lambda kept: kept)


class Tokens:
    """A change signal the test moves: ``current`` is the token (None: untrustworthy)."""

    def __init__(self) -> None:
        self.current: tuple[Any, ...] | None = (1,)

    async def token(self, resource: str, *, max_age_s: float = 0.0) -> tuple[Any, ...] | None:
        return self.current


class Computation:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.runs = 0
        self.delay_s = delay_s

    async def __call__(self) -> int:
        self.runs += 1
        await asyncio.sleep(self.delay_s)
        return self.runs


def _cache(tokens: Tokens, **options: Any) -> Any:
    return ResultCache(MemoryStore(), tokens).for_resource("things", "v1", **options)


async def test_an_answer_is_kept_while_the_token_is_unchanged() -> None:
    tokens, compute = Tokens(), Computation()
    cache = _cache(tokens)
    answers = [await cache.answer("total", ("q",), compute, SAME) for _ in range(3)]
    tokens.current = (2,)
    answers.append(await cache.answer("total", ("q",), compute, SAME))
    assert answers == [1, 1, 1, 2]
    assert (cache.counts.hits, cache.counts.misses) == ({"total": 2}, {"total": 2})


async def test_no_token_means_no_kept_answer() -> None:
    tokens, compute = Tokens(), Computation()
    tokens.current = None
    cache = _cache(tokens)
    assert [await cache.answer("total", ("q",), compute, SAME) for _ in range(2)] == [1, 2]
    assert cache.counts.bypassed == {"total": 2}


async def test_concurrent_requests_share_one_computation() -> None:
    tokens, compute = Tokens(), Computation(delay_s=0.05)
    cache = _cache(tokens)
    answers = await asyncio.gather(*(cache.answer("facets", ("q",), compute, SAME)
                                     for _ in range(10)))
    assert (answers, compute.runs) == ([1] * 10, 1)


async def test_a_cancelled_requester_does_not_cancel_the_others() -> None:
    tokens, compute = Tokens(), Computation(delay_s=0.05)
    cache = _cache(tokens)
    first = asyncio.ensure_future(cache.answer("total", ("q",), compute, SAME))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(cache.answer("total", ("q",), compute, SAME))
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await second, compute.runs) == (1, 1)


@pytest.mark.parametrize(("query", "scope"), [(("other",), ""), (("q",), "key-b")],
                         ids=["query", "scope"])
async def test_the_query_and_the_scope_separate_answers(query: tuple[str], scope: str) -> None:
    tokens, compute = Tokens(), Computation()
    cache = _cache(tokens)
    await cache.answer("total", ("q",), compute, SAME, scope="key-a")
    assert await cache.answer("total", query, compute, SAME, scope=scope or "key-a") == 2


async def test_stale_answers_are_served_while_one_refresh_runs() -> None:
    tokens, compute = Tokens(), Computation(delay_s=0.05)
    cache = _cache(tokens, stale_s=10)
    assert await cache.answer("aggregate", ("q",), compute, SAME) == 1
    tokens.current = (2,)
    served = [await cache.answer("aggregate", ("q",), compute, SAME) for _ in range(3)]
    await asyncio.sleep(0.1)
    assert served == [1, 1, 1]
    assert (await cache.answer("aggregate", ("q",), compute, SAME), compute.runs) == (2, 2)
    assert cache.counts.stale == {"aggregate": 3}


async def test_past_the_stale_bound_a_request_waits_for_the_new_answer() -> None:
    tokens, compute = Tokens(), Computation(delay_s=0.05)
    cache = _cache(tokens, stale_s=0.01)
    await cache.answer("total", ("q",), compute, SAME)
    tokens.current = (2,)
    assert await cache.answer("total", ("q",), compute, SAME) == 1  # starts the refresh
    await asyncio.sleep(0.02)
    assert await cache.answer("total", ("q",), compute, SAME) == 2


async def test_a_failed_computation_is_not_kept() -> None:
    tokens = Tokens()
    cache = _cache(tokens)

    async def failing() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await cache.answer("total", ("q",), failing, SAME)
    assert await cache.answer("total", ("q",), Computation(), SAME) == 1


VALUES = [None, True, 3, 2.5, "x", dt.datetime(2026, 12, 6, 4, 30, tzinfo=dt.UTC),
          dt.date(2026, 12, 6), dt.time(4, 30), dt.timedelta(seconds=90), Decimal("1.10"),
          uuid.UUID(int=7), b"\x00\xff", [1, "a"], {"when": dt.date(2026, 1, 1)}]


@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_kept_values_come_back_with_their_types(value: Any) -> None:
    back = typed(plain(value))
    assert (back, type(back)) == (value, type(value))


def test_a_value_of_an_unknown_type_is_not_kept() -> None:
    with pytest.raises(TypeError, match="cannot keep a object"):
        plain(object())


def test_reprs_name_the_store_and_the_bound() -> None:
    cache = ResultCache(MemoryStore(max_bytes=100), None)
    assert repr(cache) == "ResultCache(MemoryStore(max_bytes=100, size=0, entries=0))"
    assert repr(cache.for_resource("things", "v1", stale_s=5)) == (
        "ResourceResults('things', stale_s=5)")


async def test_a_caller_past_its_wait_leaves_the_computation_to_finish_and_be_kept() -> None:
    # A facet slower than the facet budget: the first page goes without it, the next has it.
    tokens, compute = Tokens(), Computation(delay_s=0.2)
    cache = _cache(tokens)
    with pytest.raises(TimeoutError):
        await cache.answer("facets", ("q",), compute, SAME, wait_s=0.02)
    await asyncio.sleep(0.3)
    assert await cache.answer("facets", ("q",), compute, SAME, wait_s=0.02) == 1
    assert compute.runs == 1
    assert cache.counts.hits == {"facets": 1}


class CountedStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, key: str) -> bytes | None:
        self.reads += 1
        return await super().get(key)


async def test_a_repeat_under_the_same_token_skips_the_store_and_a_new_token_does_not() -> None:
    tokens, compute, store = Tokens(), Computation(), CountedStore()
    cache = ResultCache(store, tokens).for_resource("things", "v1")
    assert await cache.answer("total", ("q",), compute, SAME) == 1  # computed: one read
    assert await cache.answer("total", ("q",), compute, SAME) == 1  # from the store
    reads = store.reads
    assert [await cache.answer("total", ("q",), compute, SAME) for _ in range(3)] == [1, 1, 1]
    assert store.reads == reads  # remembered: no store round trip
    tokens.current = (2,)
    assert await cache.answer("total", ("q",), compute, SAME) == 2
    assert store.reads == reads + 1


async def test_answers_another_instance_keeps_are_read_from_the_shared_store() -> None:
    tokens, store = Tokens(), MemoryStore()
    first = ResultCache(store, tokens).for_resource("things", "v1")
    second = ResultCache(store, tokens).for_resource("things", "v1")
    assert await first.answer("total", ("q",), Computation(), SAME) == 1
    assert await second.answer("total", ("q",), Computation(), SAME) == 1
    tokens.current = (2,)
    later = Computation()
    later.runs = 6
    assert await first.answer("total", ("q",), later, SAME) == 7
    # The second instance remembered (1,)'s answer; under (2,) it reads what the first kept.
    assert await second.answer("total", ("q",), Computation(), SAME) == 7


def test_the_remembered_answers_are_bounded_and_drop_the_oldest() -> None:
    remembered = Remembered(size=2)
    for query in ("a", "b", "c"):
        remembered.put(query, "t", query.upper())
    assert [remembered.get(query, "t") for query in "abc"] == [MISSING, "B", "C"]
    assert remembered.get("c", "other token") is MISSING


async def test_queries_holding_dicts_and_lists_are_remembered_apart() -> None:
    tokens, compute, store = Tokens(), Computation(), CountedStore()
    cache = ResultCache(store, tokens).for_resource("things", "v1")
    keys = [({"f0": [1, 2]}, "p"), ({"f0": (1, 2)}, "p"), ({"f0": [1, 3]}, "p")]
    assert [await cache.answer("total", key, compute, SAME) for key in keys] == [1, 2, 3]
    for _ in range(2):  # from the store, then remembered
        assert [await cache.answer("total", key, compute, SAME) for key in keys] == [1, 2, 3]
    reads = store.reads
    assert [await cache.answer("total", key, compute, SAME) for key in keys] == [1, 2, 3]
    assert store.reads == reads


async def test_a_remembered_answer_is_found_without_computing_or_reading_the_store() -> None:
    tokens, compute, store = Tokens(), Computation(), CountedStore()
    cache = ResultCache(store, tokens).for_resource("things", "v1")
    assert await cache.remembered_answer("facets", ("q",)) is None  # never served
    assert await cache.answer("facets", ("q",), compute, SAME) == 1
    assert await cache.remembered_answer("facets", ("q",)) is None  # kept, not yet read
    assert await cache.answer("facets", ("q",), compute, SAME) == 1
    reads = store.reads
    assert await cache.remembered_answer("facets", ("q",)) == 1
    assert (store.reads, compute.runs) == (reads, 1)
    tokens.current = (2,)
    assert await cache.remembered_answer("facets", ("q",)) is None
    tokens.current = None
    assert await cache.remembered_answer("facets", ("q",)) is None
