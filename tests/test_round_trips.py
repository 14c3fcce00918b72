"""What a request costs on the wire to PostgreSQL, counted by the benchmark's protocol proxy.

An in-process statement listener sees only the SELECTs it is told about; BEGIN, ROLLBACK,
a pool's ping or type introspection would go straight from the driver to the server, each
one more round trip per request. A list with its count and a detail are one each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Database
from sqlalchemy.engine import make_url

from bench.wire import WireProxy


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/koji-builds?size=50", {"data": 1}),
    ("/api/v1/koji-builds", {"data": 1}),
    ("/api/v1/koji-builds?status=success&order_by=-build_submitted_time", {"data": 1}),
    ("/api/v1/koji-builds/7", {"data": 1}),
], ids=["list", "default-list", "list-filtered-sorted", "detail"])
async def test_a_request_is_one_round_trip(
        demo_db: Database, make_api: Callable[..., Any], path: str,
        expected: dict[str, int]) -> None:
    url = make_url(demo_db.url)
    proxy = WireProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=await proxy.start())
    try:
        api = await make_api((ROOT / "registry.yaml").read_text(encoding="utf-8"),
                             proxied.render_as_string(hide_password=False), "postgresql")
        assert (await api.get(path)).status_code == 200  # warm: connection opened, types read
        proxy.counter.reset()

        assert (await api.get(path)).status_code == 200

        assert dict(proxy.counter.kinds) == expected
    finally:
        await proxy.close()
