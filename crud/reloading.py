"""Registry hot reload: new requests get the new app, requests in flight finish on the old.

``Reloadable`` is the ASGI application uvicorn serves. It forwards every request to the
current generation (a FastAPI app from ``create_app`` plus its lifespan and a count of its
requests in flight). A reload builds the next generation from the registry file exactly as
startup does (parse, bind, look for the tables, ``create_app``), starts its lifespan, and
swaps it in with one assignment: the event loop runs one request's code at a time, so every
request sees either the old app or the new one, never half of each. The old generation is
shut down (its engine disposed) only once its last request has finished. A registry that
fails on the way leaves the current app serving; its problems are logged, with file:line,
on ``crud.reload``.

Triggers: SIGHUP, and with ``watch`` a change of the file's content (checked once a second).
A reload that fails because the database did not answer is tried again (every second while
watching, with a growing pause after a SIGHUP) until it applies or the registry is found
invalid; a newer trigger replaces the retries of an older one.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE

from crud.app import create_app, load
from crud.config.registry import RegistryError
from crud.config.settings import Settings
from crud.ops.requestlog import ensure_handler
from crud.ops.tables import missing_table_issues, unreachable_reason
from crud.sql.database import run_blocking, serving_engine

__all__ = ["Generation", "Lifespan", "Reloadable", "app_from_environment", "build_app"]

logger = logging.getLogger("crud.reload")
Builder = Callable[[], Awaitable[ASGIApp]]
WATCH_INTERVAL_S = 1.0
MAX_RETRY_PAUSE_S = 30.0


async def build_app(settings: Settings, *, database_optional: bool = False) -> FastAPI:
    """The app for the registry at ``settings.registry``; ``RegistryError`` lists every problem.

    The database must answer the table lookup, unless ``database_optional`` (a server
    starting while its database is still down: ``/readyz`` keeps it out of service).
    """
    loaded = await load(settings.registry, settings.database_url)
    try:
        issues = await missing_table_issues(loaded.resources, settings.database_url,
                                            path=loaded.path, located=loaded.located)
    except (DBAPIError, OSError) as error:
        if not database_optional:
            raise
        logger.warning("tables not checked: %s", unreachable_reason(error))
        issues = []
    if issues:
        raise RegistryError(issues)
    engine = serving_engine(settings, loaded.registry.api)
    try:
        return create_app(loaded, engine, settings=settings)
    except RegistryError:
        await engine.dispose()
        raise


class Lifespan:
    """Drives one ASGI app's lifespan protocol from outside: startup now, shutdown later."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}  # what the app's lifespan yields, for its requests
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Future[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._to_app.get, self._from_app.put))
        await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        await self._exchange("lifespan.shutdown")
        assert self._task is not None
        await self._task

    async def _exchange(self, kind: str) -> None:
        assert self._task is not None
        await self._to_app.put({"type": kind})
        reply = asyncio.ensure_future(self._from_app.get())
        waiting: list[asyncio.Future[Any]] = [reply, self._task]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            self._task.result()  # the app's own exception, if it raised one
            raise RuntimeError(f"the application returned without answering {kind}")
        message = reply.result()
        if message["type"].endswith(".failed"):
            if self._task.done():
                self._task.exception()  # retrieved here, so asyncio does not log it again
            raise RuntimeError(message.get("message") or f"{kind} failed")


class Generation:
    """One app and the requests it is answering; retired once they are done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.lifespan = Lifespan(app)
        self.active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __repr__(self) -> str:
        return f"Generation({type(self.app).__name__}, active={self.active})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lifespan.state:
            scope["state"] = {**self.lifespan.state, **scope.get("state", {})}
        self.active += 1
        self._idle.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            if not self.active:
                self._idle.set()

    async def retire(self) -> None:
        live = getattr(getattr(self.app, "state", None), "live", None)
        if live is not None:  # watched lists never end by themselves (docs/live.md)
            live.end_streams()
        await self._idle.wait()
        await self.lifespan.shutdown()


class Reloadable:
    """The served ASGI app: the current generation, replaced by ``reload()``."""

    def __init__(self, app: ASGIApp, build: Builder, *, watch: Path | None = None,
                 interval_s: float = WATCH_INTERVAL_S) -> None:
        self.current = Generation(app)
        self.build = build
        self.watch = watch
        self.interval_s = interval_s
        self._lock = asyncio.Lock()  # one reload at a time, in the order asked
        self._tasks: set[asyncio.Task[Any]] = set()  # reloads and retirements under way
        self._watcher: asyncio.Task[None] | None = None
        self._asked = 0  # SIGHUPs so far: only the newest one's reload is retried
        self._stopping = asyncio.Event()  # ends the pauses between retries at shutdown
        # Whether the last failed reload failed for the database (worth another try).
        self.unreachable = False
        ensure_handler(logger)

    def __repr__(self) -> str:
        return f"Reloadable({self.current!r}, watch={self.watch})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.current(scope, receive, send)

    async def reload(self) -> bool:
        """Build, start and swap in the next generation; False (and logged) when it fails."""
        async with self._lock:
            generation = await self._next_generation()
            if generation is None:
                return False
            old, self.current = self.current, generation
        self._spawn(self._retire(old))
        return True

    async def _retire(self, old: Generation) -> None:
        await old.retire()
        logger.info("previous registry shut down after its last request (%s)", _describe(old.app))

    async def _next_generation(self) -> Generation | None:
        self.unreachable = False
        try:
            generation = Generation(await self.build())
            await generation.lifespan.startup()
        except RegistryError as error:
            for issue in error.issues:
                logger.error("%s", issue)
            # reflect() reports a database it cannot reach as the one issue keyed 'database'.
            self.unreachable = all(issue.key == "database" for issue in error.issues)
            logger.error("registry reload failed: %d problem(s); still serving the previous "
                         "registry%s", len(error.issues), _retry_note(self.unreachable))
            return None
        except Exception as error:  # the database, a model module, a lifespan: all the same
            self.unreachable = isinstance(error, DBAPIError | OSError)
            logger.error("registry reload failed: %s: %s; still serving the previous registry%s",
                         type(error).__name__, unreachable_reason(error),
                         _retry_note(self.unreachable))
            return None
        logger.info("registry reloaded: %s", _describe(generation.app))
        return generation

    async def settled(self) -> None:
        """Wait until the reloads and retirements under way have finished."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def request_reload(self) -> None:
        """Schedule a reload (the SIGHUP handler; safe to call from the event loop only),
        tried again while the database does not answer; it replaces an older one's retries."""
        self._asked += 1
        self._spawn(self._reload_until_settled(self._asked))

    async def _reload_until_settled(self, ticket: int) -> None:
        pause = self.interval_s
        while not await self.reload() and self.unreachable:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            if ticket != self._asked:  # a newer SIGHUP (or shutdown) takes over
                return
            pause = min(pause * 2, MAX_RETRY_PAUSE_S)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)  # a strong reference until done: the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        try:
            await self.current.lifespan.startup()
        except Exception as error:
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
        self._start_triggers()
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await self._stop()
        await send({"type": "lifespan.shutdown.complete"})

    def _start_triggers(self) -> None:
        loop = asyncio.get_running_loop()
        with suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        if self.watch is not None:
            self._watcher = asyncio.create_task(self._watch(self.watch))
        logger.info("SIGHUP reloads the registry%s",
                    f"; watching {self.watch}" if self.watch is not None else "")

    async def _watch(self, path: Path) -> None:
        # Content, not mtime: a ConfigMap swaps a symlink, an editor may keep the mtime.
        seen = _content(path)
        while True:
            await asyncio.sleep(self.interval_s)
            now = _content(path)
            # A reload the database kept from applying leaves the change unseen: next tick
            # tries again. An invalid file waits for the next change.
            if now != seen and (await self.reload() or not self.unreachable):
                seen = now

    async def _stop(self) -> None:
        with suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        self._asked += 1  # a SIGHUP's retries stop here
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self.settled()  # uvicorn has waited for the open requests: this ends quickly
        await self.current.retire()


def _retry_note(unreachable: bool) -> str:
    return "; trying again" if unreachable else ""


def _content(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _describe(app: ASGIApp) -> str:
    loaded = getattr(getattr(app, "state", None), "registry", None)
    if loaded is None:
        return type(app).__name__
    names = ", ".join(resource.name for resource in loaded.resources)
    return f"{loaded.path}: {len(loaded.resources)} resources ({names})"


def app_from_environment() -> Reloadable:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment.

    A registry that fails here exits with uvicorn's startup-failure code, so a rolling
    restart (SIGHUP to the parent of several workers) stops and keeps the old workers.
    """
    settings = Settings()
    try:
        app = run_blocking(build_app(settings, database_optional=True))
    except RegistryError as error:
        ensure_handler(logger)
        for issue in error.issues:
            logger.error("%s", issue)
        logger.error("%d problem(s) in the registry; this worker does not start",
                     len(error.issues))
        sys.exit(STARTUP_FAILURE)
    return Reloadable(app, partial(build_app, settings),
                      watch=settings.registry if settings.reload_registry else None)
