"""What a request costs on the wire to PostgreSQL, counted by the benchmark's protocol proxy.

An in-process statement listener sees only SELECTs; BEGIN, ROLLBACK and the pool's ping
go straight from the driver to the server, and each is one more round trip per request.
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
    ("/api/v1/koji-builds?size=50", {"data": 2, "ping": 1}),
    ("/api/v1/koji-builds?status=success&order_by=-build_submitted_time", {"data": 2, "ping": 1}),
    ("/api/v1/koji-builds/7", {"data": 1, "ping": 1}),
], ids=["list", "list-filtered-sorted", "detail"])
async def test_a_request_sends_its_selects_and_one_ping_but_no_transaction(
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
