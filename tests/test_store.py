"""The result store: an in-process LRU bounded by bytes, and Redis shared by instances."""

from __future__ import annotations

import pytest
from redis_server import redis_url  # noqa: F401  (the fixture)

from crud.sql.store import MemoryStore, RedisStore, open_store


async def test_the_memory_store_keeps_bytes_and_forgets_the_least_recently_read() -> None:
    store = MemoryStore(max_bytes=30)
    await store.set("a", b"1234567890")  # 11 bytes with its key
    await store.set("b", b"1234567890")
    assert await store.get("a") == b"1234567890"  # now b is the least recently read
    await store.set("c", b"1234567890")
    assert (await store.get("b"), await store.get("a"), await store.get("c")) == (
        None, b"1234567890", b"1234567890")
    assert store.size == 22


async def test_the_memory_store_refuses_what_cannot_fit_and_forgets_the_expired() -> None:
    store = MemoryStore(max_bytes=10)
    await store.set("big", b"x" * 20)
    await store.set("old", b"1", ttl_s=0)
    assert (await store.get("big"), await store.get("old"), store.size) == (None, None, 0)


def test_open_store_picks_the_backend_by_url() -> None:
    assert isinstance(open_store(None), MemoryStore)
    assert repr(open_store("redis://:secret@127.0.0.1:1/0")) == (
        "RedisStore('redis://***@127.0.0.1:1/0', prefix='crud:')")
    with pytest.raises(ValueError, match="expected redis://"):
        open_store("memcached://127.0.0.1")


async def test_two_redis_stores_share_entries(redis_url: str) -> None:  # noqa: F811
    first, second = open_store(redis_url), open_store(redis_url)
    try:
        await first.set("shared", b"42", ttl_s=60)
        assert await second.get("shared") == b"42"
        await second.delete("shared")
        assert await first.get("shared") is None
    finally:
        await first.close()
        await second.close()


async def test_an_unreachable_redis_is_a_miss_not_an_error() -> None:
    store = RedisStore("redis://127.0.0.1:1/0")
    await store.set("k", b"v")
    assert await store.get("k") is None
    await store.close()
