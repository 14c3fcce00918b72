"""A throwaway PgBouncer in transaction pooling mode in front of the test PostgreSQL.

Debian's ``pgbouncer`` package (``apt-get install -y pgbouncer``; ``scripts/test`` installs it),
run in the foreground as the ``postgres`` OS user (PgBouncer refuses root) on a free port,
with a config and userlist in a temporary directory, trust auth, every database name
passed through to the server the suite uses. Few server connections per pool, so the
clients' statements do share them, as in production.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Integer, String, func
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import ColumnElement

PGBOUNCER = os.environ.get("CRUD_TEST_PGBOUNCER", "/usr/sbin/pgbouncer")
SERVER_CONNECTIONS = 2
START_SECONDS = 15


def read_only(_table: object) -> ColumnElement[str]:
    """An expression field: the transaction's read-only setting where the row was read."""
    return func.current_setting("transaction_read_only", type_=String())


def statement_timeout(_table: object) -> ColumnElement[str]:
    return func.current_setting("statement_timeout", type_=String())


def jit(_table: object) -> ColumnElement[str]:
    """Whether the statement may be JIT-compiled (which ``statement_timeout`` cannot cut)."""
    return func.current_setting("jit", type_=String())


def sleep_then_one(_table: object) -> ColumnElement[int]:
    """A field that takes 300 ms per row (for budgets)."""
    return func.length(func.cast(func.pg_sleep(0.3), String())) + func.cast(1, Integer())


@dataclass
class Bouncer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    def url(self, server_url: str) -> str:
        """``server_url`` (a database on the suite's server) reached through PgBouncer."""
        return (make_url(server_url).set(host="127.0.0.1", port=self.port)
                .update_query_dict({"pgbouncer": "true"})
                .render_as_string(hide_password=False))

    def stop(self) -> None:
        # Its own process group (runuser and pgbouncer), started by start_bouncer.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_bouncer(server_url: str) -> Bouncer:
    if not Path(PGBOUNCER).exists():
        raise RuntimeError(f"{PGBOUNCER} is missing: apt-get install -y pgbouncer "
                           "(or set CRUD_TEST_PGBOUNCER)")
    server = make_url(server_url)
    directory = Path(tempfile.mkdtemp(prefix="crud-pgbouncer-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    (directory / "userlist.txt").write_text(f'"{server.username}" ""\n')
    (directory / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={server.host} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / 'userlist.txt'}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 200
logfile = {directory / 'pgbouncer.log'}
""")
    command = [PGBOUNCER, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        shutil.chown(directory, account.pw_uid, account.pw_gid)
        for path in directory.iterdir():
            shutil.chown(path, account.pw_uid, account.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    bouncer = Bouncer(directory, port, process)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return bouncer
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    log = (directory / "pgbouncer.log")
    text = log.read_text() if log.exists() else ""
    bouncer.stop()
    raise RuntimeError(f"pgbouncer did not start on port {port}:\n{text}")
