"""A real Lore server on a free loopback port, in a thread: for tests, docs and embedding."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from ..index.embed import Embedder
from ..search.hybrid import SearchSettings
from ..store.sqlite import SQLiteStore
from .auth import create_key
from .http import Limits, create_app
from .runtime import Runtime


@dataclass(frozen=True)
class RunningServer:
    """A server started by `running_server`: its base URL, app and runtime."""

    url: str
    app: FastAPI
    runtime: Runtime


@contextmanager
def running_server(
    path: str | Path,
    *,
    embedder: str | Embedder = "hash",
    auth: bool = True,
    readers: int = 4,
    limits: Limits | None = None,
    timeout: float = 30.0,
    settings: SearchSettings | None = None,
) -> Iterator[RunningServer]:
    """Serve the store at `path` with uvicorn on 127.0.0.1 (a free port) until the block ends."""
    runtime = Runtime(path, embedder=embedder, readers=readers, settings=settings)
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it Nagle's algorithm and delayed ACKs stall each keep-alive response by ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        app = create_app(runtime, auth=auth, limits=limits)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="lore-uvicorn", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Lore server did not start")
            time.sleep(0.01)
        try:
            yield RunningServer(f"http://127.0.0.1:{port}", app, runtime)
        finally:
            server.should_exit = True
            thread.join(timeout)
    finally:
        sock.close()
        runtime.close()


def make_key(path: str | Path, namespace: str, scope: str = "read", name: str = "") -> str:
    """Create a key in the store at `path` on a connection of its own; returns the secret."""
    store = SQLiteStore(path)
    try:
        return create_key(store, namespace, scope, name)[1]
    finally:
        store.close()
