"""Sharing one pipeline among many clients: a first-come, first-served gate, answers run in threads.

The in-process model answers one question at a time, so everyone else waits in
line and is told their place. With a model server, up to ``max_parallel`` answers
run at once. The chat page and the API share one gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from .config import Settings

T = TypeVar("T")
HEARTBEAT_S = 1.0  # a waiting request reports its place at least this often


@dataclass(frozen=True)
class Waiting:
    """A request's place in line: 1 is next; 0 means its turn has come."""

    place: int
    waited_s: float


class Gate:
    """At most ``limit`` holders at once; the others wait in arrival order."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"a gate needs room for at least one request, not {limit}")
        self.limit = limit
        self._cond = threading.Condition()
        self._line: list[object] = []
        self._inside: set[object] = set()

    def join(self) -> object:
        """A ticket: admitted at once if there is room, else last in line."""
        ticket = object()
        with self._cond:
            self._line.append(ticket)
            self._admit()
        return ticket

    def place(self, ticket: object) -> int:
        with self._cond:
            return self._place(ticket)

    def wait(self, ticket: object, timeout: float) -> int:
        """Wait until the ticket's place changes, or ``timeout`` seconds; return the place."""
        with self._cond:
            before = self._place(ticket)
            if before:
                self._cond.wait_for(lambda: self._place(ticket) != before, timeout)
            return self._place(ticket)

    def leave(self, ticket: object) -> None:
        """Give up a turn or a place in line (a client that hung up while waiting)."""
        with self._cond:
            self._inside.discard(ticket)
            if ticket in self._line:
                self._line.remove(ticket)
            self._admit()

    def load(self) -> dict[str, int]:
        with self._cond:
            return {"running": len(self._inside), "waiting": len(self._line), "limit": self.limit}

    def _place(self, ticket: object) -> int:
        return 0 if ticket in self._inside else self._line.index(ticket) + 1

    def _admit(self) -> None:
        while self._line and len(self._inside) < self.limit:
            self._inside.add(self._line.pop(0))
        self._cond.notify_all()


def gate_for(settings: Settings) -> Gate:
    return Gate(settings.max_parallel if settings.llm_url else 1)


def queued(gate: Gate, start: Callable[[], Iterator[T]]) -> Iterator[Waiting | T]:
    """Wait for a turn, then yield from ``start()``; the turn is given up however this ends.

    Yields ``Waiting`` first, again whenever the place changes or HEARTBEAT_S passes,
    and ``Waiting(0, …)`` when the turn comes.
    """
    joined = time.perf_counter()
    ticket = gate.join()
    try:
        place = gate.place(ticket)
        while place:
            yield Waiting(place, time.perf_counter() - joined)
            place = gate.wait(ticket, HEARTBEAT_S)
        yield Waiting(0, time.perf_counter() - joined)
        yield from start()
    finally:
        gate.leave(ticket)


_DONE = object()


async def iterate_in_thread(items: Iterator[T], idle: float | None = None) -> AsyncIterator[T | None]:
    """Run a blocking iterator in a thread of its own and hand over its items as they come.

    Yields None after ``idle`` seconds without an item (for keep-alives). If the
    consumer stops early (a client hung up), the iterator is closed in its thread
    after its next item, which ends its work and gives up its turn.
    """
    loop = asyncio.get_running_loop()
    out: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item, error=None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(out.put_nowait, (item, error))

    def work() -> None:
        try:
            for item in items:
                put(item)
                if stop.is_set():
                    break
        except Exception as e:
            put(_DONE, e)
        else:
            put(_DONE)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    threading.Thread(target=work, name="rag-answer", daemon=True).start()
    try:
        while True:
            try:
                item, error = await asyncio.wait_for(out.get(), idle)
            except TimeoutError:
                yield None
                continue
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yield its base URL, then stop it."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="rag-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {host}:{port}")
            time.sleep(0.05)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
