"""The Lore facade: open a store, then add, ingest, search, build context and expand."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, EmbedderMismatch, NotFound, QueryError
from .index.embed import Embedder, get_embedder, spec_for_identity
from .index.lexical import IndexBusy, LexicalIndex
from .index.vectors import VectorIndex, get_vector_index
from .ingest.base import detect_format, get_connector
from .ingest.sync import SourceResult, Syncer, SyncReport, combine, watch
from .ingest.writer import RecordWriter, check_namespace, reembed_store
from .redact import Policy, Redactor, StoreNumbering, load_policy
from .requests import make_query, memory_filters, until_as_of
from .search.hybrid import HybridSearcher, SearchSettings
from .store.sqlite import SQLiteStore
from .types import (
    MEMORY_KINDS,
    ContextPack,
    Draft,
    Expansion,
    Hit,
    IngestReport,
    Memory,
    MemoryHit,
    Query,
    Record,
)

if TYPE_CHECKING:
    from .context.fold import FoldResult
    from .memory import DistillReport


class _UseDefault:
    """Sentinel: use the configured default (distinct from None, which means "off")."""

    def __repr__(self) -> str:
        return "USE_DEFAULT"


USE_DEFAULT: Any = _UseDefault()
DEFAULT_DB = Path(".lore") / "lore.db"
DEFAULT_EMBEDDER = "minilm"
DEFAULT_NAMESPACE = "default"
STORE_ID = "store_id"
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
        redaction: Any = USE_DEFAULT,
    ) -> None:
        self.store = store
        self.embedder = embedder
        policy = redaction_policy(redaction)
        # Every draft is redacted before anything is stored (None: redaction off).
        self.redactor = None if policy is None else Redactor(policy, StoreNumbering(store))
        self._vector_index_name = vector_index
        self._index: VectorIndex | None = None
        self._ranked: LexicalIndex | None = None
        self.searcher = HybridSearcher(
            store, self._vectors, self._embed_query, settings, lexical=self._ranked_index
        )
        self.writer = RecordWriter(
            store, embedder, on_vectors=self._index_new_vectors,
            on_visibility=self._apply_visibility, redactor=self.redactor,
        )
        self.syncer = Syncer(store, self.writer, on_visibility=self._apply_visibility)

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
        redaction: Any = USE_DEFAULT,
    ) -> Lore:
        """Open (creating if needed) the store at `path`, `$LORE_DB` or `./.lore/lore.db`.

        `embedder` defaults to the one the store was built with (MiniLM for a new store);
        asking for a different one is an error, since the vectors would not be comparable,
        unless `reembed` is set: then every record is embedded again with the new embedder.

        `redaction` is applied to every record before it is stored: USE_DEFAULT is the policy
        file in $LORE_REDACTION_POLICY or else the built-in policy, a path is a TOML policy
        file, None turns redaction off (see docs/redaction.md).
        """
        policy = redaction_policy(redaction)  # a bad policy fails before the store is opened
        store = SQLiteStore(":memory:" if memory else (path or default_db_path()))
        try:
            recorded = store.get_meta("embedder")
            if embedder is USE_DEFAULT:
                embedder = spec_for_identity(recorded) if recorded else DEFAULT_EMBEDDER
            chosen = get_embedder(embedder)
            if recorded is None:
                store.set_meta("embedder", chosen.identity)
            elif recorded != chosen.identity and reembed:
                reembed_store(store, chosen, progress)
            elif recorded != chosen.identity:
                raise EmbedderMismatch(
                    f"{store.path} holds vectors from {recorded!r}, not {chosen.identity!r}"
                )
            if store.get_meta(STORE_ID) is None:  # names the database to indexes beside it
                store.set_meta(STORE_ID, secrets.token_hex(8))
        except BaseException:
            store.close()
            raise
        return cls(
            store, chosen, vector_index=vector_index, settings=settings, redaction=policy
        )

    def close(self) -> None:
        if self._index is not None and self._index.persistent:
            self._index.save()
        self._trim_visibility_log()
        self.store.close()

    def _trim_visibility_log(self) -> None:
        """Clear the visibility-log entries nobody needs (off the search path): those the
        ranked index has applied, or all when there is no index, since one built later reads
        the records as they are then. The log is read before looking for an index, so one
        made meanwhile keeps every entry logged after it was made."""
        _, logged, _ = self.store.ranked_state()
        if not logged:
            return
        path = self._ranked_path()
        if self._ranked is None and (path is None or not path.exists()):
            upto = logged
        elif self._ranked is not None:
            try:
                upto = self._ranked.applied()
            except (IndexBusy, OSError, ValueError):
                return
        else:
            return  # an index this process never opened: its own process trims for it
        with contextlib.suppress(sqlite3.OperationalError):  # the store is read-only or busy
            self.store.clear_ranked_pending(upto)

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

    def vector_index(self) -> VectorIndex:
        """The vector index searches use (loaded from the store on first use)."""
        return self._vectors()

    def use_vector_index(self, index: VectorIndex) -> None:
        """Search and update `index` instead of loading one: a server shares one index among
        its per-thread connections (the caller makes it thread-safe and saves it)."""
        self._index = index

    def _index_new_vectors(self, rowids: list[int], vectors: object) -> None:
        if self._index is not None:
            self._index.add(np.asarray(rowids, dtype=np.int64), np.asarray(vectors))

    def _apply_visibility(self, hidden: list[int], shown: list[int]) -> None:
        """Keep hidden (superseded, deleted, removed) records out of the vector index, so the
        unfiltered dense search needs no filter; put back those shown again."""
        index = self._index
        if index is None and (path := self._index_path()) is not None and path.exists():
            index = self._vectors()  # a saved index must drop them too, loaded or not
        if index is None:
            return  # built later from the store, which leaves hidden records out
        if hidden:
            index.remove(np.asarray(hidden, dtype=np.int64))
        if shown and index.persistent:
            rowids, vectors = self.store.vectors_of(shown)
            index.add(rowids, vectors)
        elif shown:
            self._index = None  # an exact index only appends: rebuild it on the next search

    # -- ranked full text -------------------------------------------------------
    def _ranked_path(self) -> Path | None:
        return None if self.store.path == ":memory:" else Path(self.store.path + ".fts")

    def _new_ranked(self, path: Path | None) -> LexicalIndex:
        text, context = self.searcher.settings.fts_column_weights
        repeats = round(text / context) if context > 0 else 1
        return LexicalIndex(path, repeats, self.store.get_meta(STORE_ID) or "")

    def _ranked_index(self) -> LexicalIndex | None:
        """The Tantivy index for big stores, caught up with the store (None while it is busy
        or failed: the searcher then ranks with FTS5)."""
        index = self.ranked_index()
        try:
            index.catch_up(self.store)
        except IndexBusy:
            return None
        return index

    def pending_search_index(self) -> int:
        """About how many records the ranked full-text index of a big store has yet to take
        in (0 for a store FTS5 ranks alone)."""
        settings = self.searcher.settings
        newest = self.store.max_rowid()
        if newest <= settings.fts_budget or not settings.ranked_index:
            return 0
        try:
            return max(0, newest - self.ranked_index().watermark())
        except (IndexBusy, OSError, ValueError):
            return 0  # unusable here: searches rank with FTS5

    def prepare_search(self, progress: Callable[[int], None] | None = None) -> None:
        """Bring the ranked full-text index of a big store up to date now, with `progress`
        called per batch of records, instead of in the first search (~45 s per 1M records)."""
        if self.pending_search_index():
            with contextlib.suppress(IndexBusy):  # another thread or process is doing it
                self.ranked_index().catch_up(self.store, progress)
                self._trim_visibility_log()

    def ranked_index(self) -> LexicalIndex:
        """The ranked full-text index big stores search (opened, not caught up)."""
        if self._ranked is None:
            self._ranked = self._new_ranked(self._ranked_path())
        return self._ranked

    def use_ranked_index(self, index: LexicalIndex) -> None:
        """Search and update `index` instead of opening one (a server shares one)."""
        self._ranked = index

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
        source: str | None = None,
        full: bool = False,
        on_source: Callable[[SourceResult], None] | None = None,
    ) -> SyncReport:
        """Ingest a file or a folder: every parsable item lands, every other is reported with
        file and line.

        A folder is read whole by a connector that claims it (a Slack export, a folder of .eml
        files), else walked file by file. Each source keeps a cursor: ingesting it again reads
        nothing when it is unchanged, only the new lines of a grown append-only file, and the
        whole of any other changed file (`full` re-reads everything). `source` names a file's
        source instead of its path (an upload's original name), so ingesting it again from
        another temporary file still adds nothing.
        """
        target = Path(path).resolve()  # one file is one source however it is named
        if not target.exists():
            raise NotFound(f"no such file or folder: {target}")
        check_namespace(namespace)
        if target.is_dir() and source is None:
            return self.syncer.sync(
                [target], format, namespace=namespace, full=full, progress=progress,
                on_source=on_source,
            )
        name = detect_format(target) if format == "auto" else format
        get_connector(name)  # an unknown format is a ConfigError before anything is read
        result = self.syncer.sync_source(
            target, name, namespace=namespace, full=full, progress=progress, uri=source,
            sticky=format == "auto",
        )
        if on_source is not None:
            on_source(result)
        return combine([result])

    def watch(
        self,
        paths: Sequence[str | Path],
        *,
        format: str = "auto",
        namespace: str = DEFAULT_NAMESPACE,
        interval: float = 2.0,
        cycles: int | None = None,
        stop: threading.Event | None = None,
        on_cycle: Callable[[int, SyncReport], None] | None = None,
    ) -> SyncReport:
        """Keep ingesting `paths` as files appear, grow or change, polling every `interval`
        seconds, until `stop` is set or `cycles` polls have run; returns what changed."""
        check_namespace(namespace)
        targets = [Path(p).resolve() for p in paths]
        for target in targets:
            if not target.exists():
                raise NotFound(f"no such file or folder: {target}")
        return watch(
            self.syncer, targets, format, namespace=namespace, interval=interval,
            cycles=cycles, stop=stop, on_cycle=on_cycle,
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
        as_of: datetime | None = None,
    ) -> list[Hit]:
        """The `k` best records for `query`, each saying which retrievers found it and how.

        `as_of` keeps to records that had occurred by then (see `memories` for memories)."""
        until = until_as_of(until, as_of)
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
        as_of: datetime | None = None,
        memories: bool = True,
    ) -> ContextPack:
        """Fragments for `query` that fit `budget_tokens` exactly, cited and deduplicated.

        With `memories` (and a distilled store) the pack leads with the relevant current facts
        and procedures, then decisions and episodes, then raw evidence; `as_of` packs what was
        true and known at that date."""
        from .context.pack import build_context

        filters = make_query(
            query, 10, "hybrid", namespace, actors, sessions, kinds, since,
            until_as_of(until, as_of),
        ).filters
        return build_context(
            self, query, budget_tokens, filters, encoding=encoding, as_of=as_of,
            memories=memories,
        )

    # -- memories -------------------------------------------------------------
    def distill(
        self, namespace: str | None = None, *, llm: Any = USE_DEFAULT, retry_failed: bool = False
    ) -> DistillReport:
        """Distil records not yet distilled into episodes, facts, decisions and procedures.

        Incremental (a watermark per session) and idempotent; the report counts what was
        made, superseded and merged, and the LLM calls, tokens and seconds it cost. `llm`:
        USE_DEFAULT is the chat endpoint $LORE_LLM_URL and $LORE_LLM_MODEL name (rules when
        unset), None is rules only, or a `lore.llm.ChatClient`. LLM answers that never
        validate are recorded; `retry_failed` asks again for those batches."""
        from .llm import ChatClient
        from .memory import distill

        if namespace is not None:
            check_namespace(namespace)
        client = ChatClient.from_env() if llm is USE_DEFAULT else llm
        try:
            return distill(self, namespace, client, retry_failed=retry_failed)
        finally:
            if llm is USE_DEFAULT and client is not None:
                client.close()

    def memories(
        self,
        *,
        kinds: Sequence[str] = (),
        namespace: str | None = None,
        as_of: datetime | None = None,
        include_superseded: bool = False,
        limit: int = 100,
    ) -> list[Memory]:
        """Memories, newest first: those current now, or true and known at `as_of`
        (valid_from <= as_of < valid_to, recorded by then); `include_superseded` adds history."""
        from .memory import MemoryStore

        filters = memory_filters(kinds, namespace, as_of, include_superseded)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise QueryError(f"limit must be between 1 and 10000, got {limit!r}")
        return MemoryStore(self.store).listing(filters, limit)

    def memory(self, memory_id: str) -> Memory:
        """One memory by id (with or without its `memory:` prefix)."""
        from .memory import MemoryStore

        return MemoryStore(self.store).get(memory_id.removeprefix("memory:"))

    def search_memories(
        self,
        query: str,
        k: int = 10,
        *,
        kinds: Sequence[str] = (),
        namespace: str | None = None,
        as_of: datetime | None = None,
    ) -> list[MemoryHit]:
        """The `k` memories best matching `query` (BM25 and cosine, fused), current or as of
        a date; each cites its evidence record ids."""
        from .memory import MemoryStore, search_memories

        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 1000:
            raise QueryError(f"k must be between 1 and 1000, got {k!r}")
        filters = memory_filters(kinds, namespace, as_of, False)
        return search_memories(MemoryStore(self.store), query, k, filters, self._embed_query)

    def expand(self, handle: str, window: int = 3) -> Expansion:
        """The original evidence behind a fragment handle, with `window` neighbours each side."""
        from .context.expand import expand

        return expand(self, handle, window)

    def fold(
        self,
        messages: Sequence[dict[str, Any]],
        budget_tokens: int,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        session: str | None = None,
        encoding: str | None = None,
    ) -> FoldResult:
        """Chat messages folded to fit `budget_tokens`: recent blocks raw, older closed blocks
        as short mementos whose `fold:` handles `expand` back to the stored originals."""
        from .context.fold import fold

        return fold(
            self, messages, budget_tokens, namespace=namespace, session=session,
            encoding=encoding,
        )

    def records(
        self, namespace: str | None = None, *, after: str | None = None, limit: int = 100
    ) -> list[Record]:
        """A page of records in id (time) order, after the record id `after`."""
        if namespace is not None:
            check_namespace(namespace)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise QueryError(f"limit must be between 1 and 1000, got {limit!r}")
        return self.store.records_page(namespace, after, limit)

    def stats(self, namespace: str | None = None) -> dict[str, Any]:
        """Counts of records, sessions, vectors and namespaces (all, or within `namespace`),
        memories by kind and distillation failures awaiting a retry, and the store's
        settings."""
        from .memory import MemoryStore

        data = self.store.stats(namespace)
        memories = MemoryStore(self.store)
        counts = memories.counts(namespace)
        data["memories"] = {kind: counts[kind] for kind in MEMORY_KINDS if counts.get(kind)}
        data["distill_failures"] = len(memories.open_failures(namespace))
        data["embedder"] = self.embedder.identity
        data["path"] = self.store.path
        return data

    def forget(self, record_ids: Sequence[str], *, reason: str = "forget") -> list[str]:
        """Delete records explicitly, and every memory distilled from them; each deletion is
        audited (id, hash, reason, time), never the text."""
        from .memory.store import MemoryStore

        rowids = []
        for record_id in record_ids:
            rowids.append(self.store.record_by_id(record_id)[0])
        now = time.time()
        with self.store.transaction():
            sessions = list(self.store.sessions_of(rowids).values())
            removed = self.store.delete_records(rowids, reason, now)
            MemoryStore(self.store).forget_citing(removed, sessions, reason, now)
        index = self._index
        if index is None and (path := self._index_path()) is not None and path.exists():
            index = self._vectors()  # a saved index must forget them too, loaded or not
        if index is not None:
            index.remove(np.asarray(rowids, dtype=np.int64))
        return removed


def redaction_policy(redaction: Any = USE_DEFAULT) -> Policy | None:
    """The policy `redaction` names: USE_DEFAULT is $LORE_REDACTION_POLICY or the built-in
    policy, None is off, a path is a TOML file (merged over the built-in one), a Policy is used
    as it is."""
    if redaction is None or isinstance(redaction, Policy):
        return redaction
    if redaction is USE_DEFAULT:
        return load_policy(os.environ.get("LORE_REDACTION_POLICY") or None)
    if isinstance(redaction, str | Path):
        return load_policy(redaction)
    raise ConfigError(
        f"redaction must be a policy file, a Policy, None or USE_DEFAULT, not {redaction!r}"
    )
