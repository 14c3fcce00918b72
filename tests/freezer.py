"""A TCP proxy in front of a database that can stop forwarding: a frozen server, safely.

Freezing the shared test servers (SIGSTOP) would stall every other test using them; this
proxy, on a free loopback port, freezes only the connections made through it. While frozen
it keeps every connection open and forwards nothing, as a stopped server process or a
black-holed network path would. Threads, not the test's event loop: it keeps working
whatever the loop under test does.
"""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType

__all__ = ["FreezingProxy"]

_TICK_S = 0.02


class FreezingProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = threading.Event()
        self.refusing = threading.Event()  # a server that is down: connections closed at once
        self.refused = 0
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self.closed_by_client = 0  # connections the client side hung up
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> FreezingProxy:
        self._spawn(self._accept)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stopped.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=5)

    def freeze(self) -> None:
        self.frozen.set()

    def refuse(self) -> None:
        self.refusing.set()

    def thaw(self) -> None:
        self.frozen.clear()
        self.refusing.clear()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(_TICK_S)
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            with self.lock:
                self.accepted += 1
                if self.refusing.is_set():
                    self.refused += 1
                    client.close()
                    continue
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.target)
        peers = {client: server, server: client}
        held: dict[socket.socket, bytes] = {client: b"", server: b""}  # read while frozen
        try:
            while not self.stopped.is_set():
                ready, _, _ = select.select(list(peers), [], [], _TICK_S)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        if sock is client:
                            with self.lock:
                                self.closed_by_client += 1
                        return
                    held[sock] += data
                if self.frozen.is_set():  # read (to see a hang-up), but forward nothing
                    continue
                for sock, data in held.items():
                    if data:
                        peers[sock].sendall(data)
                        held[sock] = b""
        except OSError:
            return
        finally:
            client.close()
            server.close()
