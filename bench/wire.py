"""Count SQL statements on the wire: a PostgreSQL protocol proxy that sees every one.

pg_stat_statements needs ``shared_preload_libraries`` and a server restart, and an
in-process SQLAlchemy listener misses what the driver sends on its own (BEGIN, ROLLBACK,
the pool's ping). So the servers are pointed at this proxy for a short counting phase and
it reads the frontend messages: a simple ``Query`` or an extended-protocol ``Execute`` is
one statement executed. ``Parse`` and ``Bind`` tell which text an ``Execute`` runs, so each
statement is classified as data (SELECT/WITH), transaction control (BEGIN/COMMIT/ROLLBACK),
ping (empty statement), pool reset or other (session setup, type introspection).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["StatementCounter", "WireProxy", "classify"]

_SPECIAL_REQUESTS = {80877103, 80877104, 80877102}  # SSLRequest, GSSENCRequest, CancelRequest


def classify(sql: str) -> str:
    text = sql.strip().rstrip(";").strip().lower()
    if not text:
        return "ping"
    if "pg_advisory_unlock_all" in text:
        return "reset"  # asyncpg's pool reset on release
    word = text.split(None, 1)[0]
    if word in {"select", "with"}:
        return "data"
    if word in {"begin", "commit", "rollback", "start", "end"}:
        return "transaction"
    return "other"


@dataclass
class StatementCounter:
    """Statements executed since the last ``reset``, by kind, plus the SELECT texts seen."""

    kinds: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)

    def record(self, sql: str) -> None:
        kind = classify(sql)
        self.kinds[kind] += 1
        if kind == "data":
            self.texts.append(sql)

    def reset(self) -> None:
        self.kinds.clear()
        self.texts.clear()

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


class _Session:
    """One client connection's protocol state: prepared statements and portals by name."""

    def __init__(self, counter: StatementCounter) -> None:
        self.counter = counter
        self.started = False
        self.buffer = b""
        self.statements: dict[bytes, str] = {}
        self.portals: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 4:
                    return
                (length,) = struct.unpack("!I", self.buffer[:4])
                if len(self.buffer) < length:
                    return
                code = struct.unpack("!I", self.buffer[4:8])[0] if length >= 8 else 0
                self.buffer = self.buffer[length:]
                self.started = code not in _SPECIAL_REQUESTS
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[:1]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            self._message(kind, self.buffer[5:1 + length])
            self.buffer = self.buffer[1 + length:]

    def _message(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self.counter.record(body.rstrip(b"\0").decode(errors="replace"))
        elif kind == b"P":
            name, rest = body.split(b"\0", 1)
            self.statements[name] = rest.split(b"\0", 1)[0].decode(errors="replace")
        elif kind == b"B":
            portal, rest = body.split(b"\0", 1)
            statement = rest.split(b"\0", 1)[0]
            self.portals[portal] = self.statements.get(statement, "?")
        elif kind == b"E":
            portal = body.split(b"\0", 1)[0]
            self.counter.record(self.portals.get(portal, "?"))


class WireProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server, counting what clients execute."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.counter = StatementCounter()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            # Clients (the servers under test) may still hold connections; do not wait on them.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        session = _Session(self.counter)
        await asyncio.gather(self._pipe(reader, up_writer, session),
                             self._pipe(up_reader, writer, None), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    session: _Session | None) -> None:
        try:
            while data := await reader.read(65536):
                if session is not None:
                    session.feed(data)
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
