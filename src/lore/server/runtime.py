"""The servers' runtime: one writer thread, per-thread readers, an embedding thread, one index."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..engine import USE_DEFAULT, Lore
from ..errors import ConfigError, LoreError
from ..index.embed import Embedder
from ..index.vectors import VectorIndex, get_vector_index
from ..search.hybrid import SearchSettings

T = TypeVar("T")
DEFAULT_READERS = 4


class PooledEmbedder(Embedder):
    """Runs another embedder on one dedicated thread.

    Query and write embeddings queue there (FIFO, so a large ingest interleaves with
    queries batch by batch) and cannot occupy more than one core's worth of reader threads.
    """

    name = "pooled"

    def __init__(self, inner: Embedder, pool: ThreadPoolExecutor) -> None:
        self.inner = inner
        self.dim = inner.dim
        self._pool = pool

    @property
    def identity(self) -> str:
        return self.inner.identity

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._pool.submit(self.inner.embed_batch, texts).result()

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return self._pool.submit(self.inner.embed, texts, progress=progress).result()


class LockedIndex(VectorIndex):
    """One vector index shared by the writer and every reader, each call under one lock.

    A plain mutex rather than a readers-writer lock: indexes may reorganise themselves while
    searching (the exact index folds in pending vectors), and a search costs milliseconds.
    It reports itself persistent so the engine never drops it (each connection would then
    load its own); `save` is left to the runtime, which saves the inner index at shutdown.
    An append-only inner index asked to take back older rowids is rebuilt with `reload`.
    """

    name = "locked"
    persistent = True

    def __init__(
        self, inner: VectorIndex, reload: Callable[[], VectorIndex] | None = None
    ) -> None:
        super().__init__(inner.dim, None)
        self.inner = inner
        self._reload = reload
        self._lock = threading.Lock()

    def add(self, rowids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            old = len(rowids) > 0 and int(np.min(rowids)) <= self.inner.watermark()
            if old and not self.inner.persistent and self._reload is not None:
                self.inner = self._reload()
            else:
                self.inner.add(rowids, vectors)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            return self.inner.search(query, k, allowed)

    def remove(self, rowids: np.ndarray) -> None:
        with self._lock:
            self.inner.remove(rowids)

    def __len__(self) -> int:
        with self._lock:
            return len(self.inner)

    def watermark(self) -> int:
        with self._lock:
            return self.inner.watermark()

    def save(self) -> None:
        """Nothing: the runtime saves the inner index once, when it closes."""

    def save_inner(self) -> None:
        with self._lock:
            if self.inner.persistent:
                self.inner.save()


class _Stopped(Exception):
    """Raised into an index build when the runtime closes."""


class Runtime:
    """Runs the synchronous engine under an async server (STYLE.md, habit 14).

    Every write goes to one writer thread with its own connection, so writes never contend
    for SQLite's lock; reads run on a small pool, each thread with its own connection (WAL
    lets them read while the writer writes); all share one embedder thread and one vector
    index, which the writer updates right after each commit, before it acknowledges.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        embedder: str | Embedder = USE_DEFAULT,
        readers: int = DEFAULT_READERS,
        settings: SearchSettings | None = None,
    ) -> None:
        if str(path) == ":memory:":
            raise ConfigError("a server needs a database file, not :memory:")
        if readers < 1:
            raise ConfigError(f"readers must be at least 1, got {readers}")
        self.path = Path(path)
        self._settings = settings
        self._embed_pool = ThreadPoolExecutor(1, thread_name_prefix="lore-embed")
        probe = Lore.open(self.path, embedder=embedder, settings=settings)  # checks, creates
        self.embedder = PooledEmbedder(probe.embedder, self._embed_pool)
        probe.close()
        self.writer = Lore.open(self.path, embedder=self.embedder, settings=settings)
        self.index = LockedIndex(self.writer.vector_index(), self._reload_exact)
        self.writer.use_vector_index(self.index)
        self.ranked = self.writer.ranked_index()  # one ranked full-text index for all threads
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="lore-writer")
        self._read_pool = ThreadPoolExecutor(readers, thread_name_prefix="lore-reader")
        self._local = threading.local()
        self._readers: list[Lore] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()
        # Records the ranked full-text index has yet to take in; built on its own thread.
        self.index_pending = self.writer.pending_search_index()
        self.index_build: threading.Thread | None = None
        if self.index_pending:
            self.index_build = threading.Thread(
                target=self._build_ranked_index, name="lore-index-build", daemon=True
            )
            self.index_build.start()

    def _build_ranked_index(self) -> None:
        """Bring the ranked full-text index of a big store up to date at start, on a
        connection of its own, so no request has to (searches rank with FTS5 meanwhile).
        Closing the runtime stops it; the index then keeps its last complete state."""

        def check(_: int) -> None:
            if self._stopping.is_set():
                raise _Stopped

        try:
            lore = Lore.open(self.path, embedder=self.embedder, settings=self._settings)
        except LoreError:
            return  # the store cannot be opened again: the first search builds the index
        try:
            lore.use_ranked_index(self.ranked)
            lore.prepare_search(check)
        except _Stopped:
            pass
        finally:
            lore.close()

    def _reload_exact(self) -> VectorIndex:
        """A fresh exact index from the writer's connection (called on the writer thread)."""
        index = get_vector_index("exact", self.embedder.dim, None)
        for rowids, vectors in self.writer.store.iter_vectors():
            index.add(rowids, vectors)
        return index

    def _reader(self) -> Lore:
        lore: Lore | None = getattr(self._local, "lore", None)
        if lore is None:
            lore = Lore.open(self.path, embedder=self.embedder, settings=self._settings)
            lore.use_vector_index(self.index)
            lore.use_ranked_index(self.ranked)
            self._local.lore = lore
            with self._readers_lock:
                self._readers.append(lore)
        return lore

    def _run_read(self, fn: Callable[[Lore], T]) -> T:
        return fn(self._reader())

    async def read(self, fn: Callable[[Lore], T]) -> T:
        """Run `fn(lore)` on a reader thread's own connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, self._run_read, fn)

    async def write(self, fn: Callable[[Lore], T]) -> T:
        """Run `fn(lore)` on the one writer thread; it has finished (committed) when this returns.

        A cancelled caller does not cancel the write: it lands or fails whole either way.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._write_pool, fn, self.writer)

    def read_now(self, fn: Callable[[Lore], Any]) -> Any:
        """Run `fn(lore)` on a reader thread and wait (for synchronous callers)."""
        return self._read_pool.submit(self._run_read, fn).result()

    def close(self) -> None:
        """Finish queued work, save the vector index, close every connection."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self.index_build is not None:
            self.index_build.join()
        self._write_pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)
        with self._readers_lock:
            for lore in self._readers:
                lore.close()
            self._readers.clear()
        self.index.save_inner()
        self.writer.close()
        self._embed_pool.shutdown(wait=True)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
