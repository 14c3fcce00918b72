"""A throwaway PostgreSQL primary and a streaming replica of it, on two free ports.

Built from the PostgreSQL binaries (``PG_BIN``, default Debian's 15) as the ``postgres``
OS user in a temporary directory: ``initdb`` with trust auth and ``wal_level=replica``,
the demo data loaded into the primary, ``pg_basebackup -R`` into the replica's directory.
The machine's own cluster (5432) is never touched. ``stop`` always removes both.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Integer, func
from sqlalchemy.sql.elements import ColumnElement

from crud.sql.database import make_engine
from resources.demo import load_demo_data

PG_BIN = Path(os.environ.get("CRUD_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SCALE = 100
START_SECONDS = 30


def server_port(_table: object) -> ColumnElement[int]:
    """An expression field naming the server that answered (which database served a row)."""
    return func.inet_server_port(type_=Integer())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(*command: str | Path) -> list[str]:
    argv = [str(part) for part in command]
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _run(*command: str | Path) -> None:
    subprocess.run(_as_postgres(*command), check=True, capture_output=True, timeout=120)


@dataclass
class Node:
    """One server of the pair: its data directory and port."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        _run(PG_BIN / "pg_ctl", "-D", self.directory, "-l", self.directory / "server.log",
             "-w", "-t", str(START_SECONDS), "start")

    def stop(self, mode: str = "fast") -> None:
        _run(PG_BIN / "pg_ctl", "-D", self.directory, "-m", mode, "-w", "stop")

    def stop_quietly(self) -> None:
        subprocess.run(_as_postgres(PG_BIN / "pg_ctl", "-D", self.directory, "-m", "immediate",
                                    "-w", "stop"), capture_output=True, timeout=60)


@dataclass
class Pair:
    root: Path
    primary: Node
    replica: Node

    def remove(self) -> None:
        self.replica.stop_quietly()
        self.primary.stop_quietly()
        shutil.rmtree(self.root, ignore_errors=True)


def start_pair() -> Pair:
    """Primary (demo data) and a caught-up streaming replica; ``Pair.remove`` undoes it."""
    root = Path(tempfile.mkdtemp(prefix="crud-replication-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    pair = Pair(root, Node(root / "primary", free_port()), Node(root / "replica", free_port()))
    try:
        _init_primary(pair.primary, root)
        asyncio.run(_load(pair.primary.url))
        _run(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(pair.primary.port),
             "-U", "postgres", "-D", pair.replica.directory, "-R", "-X", "stream",
             "-c", "fast", "--no-sync")
        with (pair.replica.directory / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {pair.replica.port}\n")
        pair.replica.start()
    except BaseException:
        pair.remove()
        raise
    return pair


def _init_primary(node: Node, root: Path) -> None:
    _run(PG_BIN / "initdb", "-D", node.directory, "-U", "postgres", "--auth=trust",
         "--no-sync")
    settings = {"port": node.port, "listen_addresses": "'127.0.0.1'",
                "unix_socket_directories": f"'{root}'", "wal_level": "replica",
                "max_wal_senders": 4, "hot_standby": "on", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off",
                "shared_buffers": "'32MB'"}
    with (node.directory / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    node.start()


async def _load(url: str) -> None:
    writer = make_engine(url, read_only=False)
    try:
        await load_demo_data(writer, scale=SCALE)
    finally:
        await writer.dispose()
