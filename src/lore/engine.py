"""The Lore facade: open a store, then add, ingest, search, build context and expand."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, EmbedderMismatch, NotFound, QueryError
from .index.embed import Embedder, get_embedder
from .index.vectors import VectorIndex, get_vector_index
from .ingest.base import detect_format, get_connector
from .ingest.writer import RecordWriter, check_namespace
from .search.hybrid import HybridSearcher, SearchSettings
from .store.sqlite import SQLiteStore
from .types import (
    SEARCH_MODES,
    ContextPack,
    Draft,
    Expansion,
    Filters,
    Hit,
    IngestReport,
    Query,
    Record,
)


class _UseDefault:
    """Sentinel: use the configured default (distinct from None, which means "off")."""

    def __repr__(self) -> str:
        return "USE_DEFAULT"


USE_DEFAULT: Any = _UseDefault()
DEFAULT_DB = Path(".lore") / "lore.db"
DEFAULT_EMBEDDER = "minilm"
DEFAULT_NAMESPACE = "default"
ANN_THRESHOLD = 50_000  # below this many vectors exact search is both exact and fast enough


def default_db_path() -> Path:
    return Path(os.environ.get("LORE_DB") or DEFAULT_DB)


class Lore:
    """One store, one embedder, one searcher; every interface goes through this class."""

    def __init__(
        self,
        store: SQLiteStore,
        embedder: Embedder,
        *,
        vector_index: str = "auto",
        settings: SearchSettings | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self._vector_index_name = vector_index
        self._index: VectorIndex | None = None
        self.searcher = HybridSearcher(store, self._vectors, self._embed_query, settings)
        self.writer = RecordWriter(store, embedder, on_vectors=self._index_new_vectors)

    # -- opening --------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        memory: bool = False,
        embedder: str | Embedder = USE_DEFAULT,
        vector_index: str = "auto",
        settings: SearchSettings | None = None,
        reembed: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Lore:
        """Open (creating if needed) the store at `path`, `$LORE_DB` or `./.lore/lore.db`.

        `embedder` defaults to the one the store was built with (MiniLM for a new store);
        asking for a different one is an error, since the vectors would not be comparable,
        unless `reembed` is set: then every record is embedded again with the new embedder.
        """
        store = SQLiteStore(":memory:" if memory else (path or default_db_path()))
        try:
            recorded = store.get_meta("embedder")
            if embedder is USE_DEFAULT:
                embedder = spec_for_identity(recorded) if recorded else DEFAULT_EMBEDDER
            chosen = get_embedder(embedder)
            if recorded is None:
                store.set_meta("embedder", chosen.identity)
            elif recorded != chosen.identity and reembed:
                _reembed(store, chosen, progress)
            elif recorded != chosen.identity:
                raise EmbedderMismatch(
                    f"{store.path} holds vectors from {recorded!r}, not {chosen.identity!r}"
                )
        except BaseException:
            store.close()
            raise
        return cls(store, chosen, vector_index=vector_index, settings=settings)

    def close(self) -> None:
        if self._index is not None and self._index.persistent:
            self._index.save()
        self.store.close()

    def __enter__(self) -> Lore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- vectors --------------------------------------------------------------
    def _index_path(self) -> Path | None:
        return None if self.store.path == ":memory:" else Path(self.store.path + ".ann")

    def _vectors(self) -> VectorIndex:
        if self._index is None:
            name = self._vector_index_name
            path = self._index_path()
            if name == "auto":
                # A saved ANN index means the store was big; counting 1M vectors costs ~0.5 s.
                saved = path is not None and path.exists()
                big = saved or self.store.vector_count() >= ANN_THRESHOLD
                name = "usearch" if big else "exact"
            index = get_vector_index(name, self.embedder.dim, path)
            if index.watermark() > self.store.max_rowid():  # saved for a database since replaced
                index = get_vector_index(name, self.embedder.dim, None)
                index.path = path
            for rowids, vectors in self.store.iter_vectors(after_rowid=index.watermark()):
                index.add(rowids, vectors)
            self._index = index
        return self._index

    def _index_new_vectors(self, rowids: list[int], vectors: object) -> None:
        if self._index is not None:
            self._index.add(np.asarray(rowids, dtype=np.int64), np.asarray(vectors))

    def _embed_query(self, text: str) -> np.ndarray:
        return self.embedder.embed_one(text)

    # -- writing --------------------------------------------------------------
    def add(
        self,
        text: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        kind: str = "message",
        actor: str | None = None,
        role: str | None = None,
        session: str | None = None,
        seq: int | None = None,
        occurred_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
        source: str = "api",
    ) -> IngestReport:
        """Add one record; adding the same content again adds nothing."""
        draft = Draft(
            text=text,
            kind=kind,
            session_id=session,
            seq=seq,
            actor=actor,
            role=role,
            occurred_at=occurred_at,
            metadata=metadata or {},
        )
        return self.add_many([draft], namespace=namespace, source=source)

    def add_many(
        self,
        drafts: Iterable[Draft],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        source: str = "api",
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Add many drafts in transactional batches; invalid ones are reported, the rest land."""
        return self.writer.write(
            drafts, namespace=namespace, connector="api", uri=source, progress=progress
        )

    def ingest(
        self,
        path: str | Path,
        *,
        format: str = "auto",
        namespace: str = DEFAULT_NAMESPACE,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest a file: every parsable item lands, every other is reported with file and line."""
        file = Path(path).resolve()  # one file is one source however it is named
        if not file.is_file():
            raise NotFound(f"no such file: {file}")
        check_namespace(namespace)
        name = detect_format(file) if format == "auto" else format
        connector = get_connector(name)
        return self.writer.write(
            connector.parse(file),
            namespace=namespace,
            connector=name,
            uri=str(file),
            progress=progress,
        )

    # -- reading --------------------------------------------------------------
    def search(
        self,
        query: str | Query,
        k: int = 10,
        *,
        mode: str = "hybrid",
        namespace: str | None = None,
        actors: Sequence[str] = (),
        sessions: Sequence[str] = (),
        kinds: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Hit]:
        """The `k` best records for `query`, each saying which retrievers found it and how."""
        if isinstance(query, str):
            query = make_query(query, k, mode, namespace, actors, sessions, kinds, since, until)
        scored = self.searcher.search(query)
        records = self.store.records_by_rowid([s.rowid for s in scored])
        return [Hit(records[s.rowid], s.score, s.why) for s in scored if s.rowid in records]

    def get(self, record_id: str) -> Record:
        """One record by id."""
        return self.store.record_by_id(record_id)[1]

    def context(
        self,
        query: str,
        budget_tokens: int = 2000,
        *,
        namespace: str | None = None,
        actors: Sequence[str] = (),
        sessions: Sequence[str] = (),
        kinds: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        encoding: str | None = None,
    ) -> ContextPack:
        """Fragments for `query` that fit `budget_tokens` exactly, cited and deduplicated."""
        from .context.pack import build_context

        filters = make_query(
            query, 10, "hybrid", namespace, actors, sessions, kinds, since, until
        ).filters
        return build_context(self, query, budget_tokens, filters, encoding=encoding)

    def expand(self, handle: str, window: int = 3) -> Expansion:
        """The original evidence behind a fragment handle, with `window` neighbours each side."""
        from .context.expand import expand

        return expand(self, handle, window)

    def stats(self) -> dict[str, Any]:
        """Counts of records, sessions, vectors and namespaces, and the store's settings."""
        data = self.store.stats()
        data["embedder"] = self.embedder.identity
        data["path"] = self.store.path
        return data

    def forget(self, record_ids: Sequence[str], *, reason: str = "forget") -> list[str]:
        """Delete records explicitly; each deletion is audited (id, hash, reason, time)."""
        rowids = []
        for record_id in record_ids:
            rowids.append(self.store.record_by_id(record_id)[0])
        with self.store.transaction():
            removed = self.store.delete_records(rowids, reason, time.time())
        index = self._index
        if index is None and (path := self._index_path()) is not None and path.exists():
            index = self._vectors()  # a saved index must forget them too, loaded or not
        if index is not None:
            index.remove(np.asarray(rowids, dtype=np.int64))
        return removed


def _reembed(
    store: SQLiteStore, embedder: Embedder, progress: Callable[[int], None] | None
) -> None:
    """Replace every vector with one from `embedder`, in one transaction, and record it."""
    from .index.contextual import embedding_text

    with store.transaction():
        for rowids, drafts in store.iter_embedding_inputs():
            vectors = embedder.embed([embedding_text(d) for d in drafts])
            store.insert_vectors(rowids, vectors)
            if progress is not None:
                progress(len(rowids))
        store.set_meta("embedder", embedder.identity)
    if store.path != ":memory:":
        for stale in Path(store.path).parent.glob(Path(store.path).name + ".ann*"):
            stale.unlink()


def spec_for_identity(identity: str) -> str:
    """The embedder spec that reproduces a recorded identity ("hash:256" -> "hash:256")."""
    name, _, rest = identity.partition(":")
    if name == "minilm":
        return "minilm"
    if name == "openai":
        return "openai:" + rest.rsplit(":", 1)[0]
    return identity


def make_query(
    text: str,
    k: int = 10,
    mode: str = "hybrid",
    namespace: str | None = None,
    actors: Sequence[str] = (),
    sessions: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Query:
    """A validated `Query`; invalid options are a QueryError, odd text never is."""
    if mode not in SEARCH_MODES:
        raise QueryError(
            f"unknown search mode {mode!r}", hint=f"use one of {', '.join(SEARCH_MODES)}"
        )
    if not isinstance(k, int) or k < 1 or k > 1000:
        raise QueryError(f"k must be between 1 and 1000, got {k!r}")
    if namespace is not None:
        try:
            check_namespace(namespace)
        except ConfigError as exc:
            raise QueryError(str(exc), hint=exc.hint) from None
    if since is not None and until is not None and since >= until:
        raise QueryError("'since' must be before 'until'")
    filters = Filters(namespace, tuple(actors), tuple(sessions), tuple(kinds), since, until)
    return Query(text=text, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
