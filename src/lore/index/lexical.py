"""Ranked full-text search for big stores: a Tantivy index derived from the records table.

SQLite's FTS5 scores every record that holds a query word (about 1.3 us each), so an OR query
over a large store costs tens of milliseconds. Tantivy keeps block-max metadata in its posting
lists and skips the blocks that cannot reach the current top k (block-max WAND; Ding & Suel,
2011), so the same BM25 top 1,000 costs a few milliseconds at 1M records
(docs/benchmarks.md, Speed).

The index is derived, never the source of truth: it lives in a directory beside the database,
holds only visible records, and catches up from the store before each search: records after
its watermark (records are append-only: an edit is a new record that hides the old one), then
the store's log of hides, shows and deletions (`ranked_pending`, filled by triggers in the
same transaction as the change, by any connection). It can be deleted at any time and is
rebuilt on the next search.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import tantivy

from ..types import Filters, to_epoch

# Fields. The body keeps term frequencies but no positions: ranking needs no phrases.
ROWID, BODY, MARK, APPLIED = "rowid", "body", "mark", "applied"
# The rowid of one bookkeeping document: `mark` is the store's newest rowid at the last commit
# and `applied` the last visibility-log entry applied, committed with the records so they
# can never disagree with them.
SENTINEL = -1
NAMESPACE, ACTOR, SESSION, KIND, OCCURRED = "namespace", "actor", "session", "kind", "occurred"
ANALYZER = "lore_en"
WRITER_HEAP = 64_000_000
FORMAT = 4

# One row as the store hands it over: rowid, text, context, namespace, actor, session id,
# kind, occurred_at (epoch seconds or None).
IndexRow = tuple[int, str, str | None, str, str | None, str | None, str, float | None]


def _analyzer() -> Any:
    """Words as FTS5's `porter unicode61 remove_diacritics 2` sees them, near enough:
    alphanumeric runs, lower-cased, accents folded, English (Porter 2) stems."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(255))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field(ROWID, indexed=True, fast=True)
    builder.add_text_field(BODY, tokenizer_name=ANALYZER, index_option="freq")
    for name in (NAMESPACE, ACTOR, SESSION, KIND):
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_float_field(OCCURRED, indexed=True, fast=True)
    builder.add_integer_field(MARK, fast=True)
    builder.add_integer_field(APPLIED, fast=True)
    return builder.build()


def namespace_prefixes(namespace: str) -> list[str]:
    """"acme/eng/web" -> ["acme", "acme/eng", "acme/eng/web"]: a namespace filter is then
    one term, matching the namespace and everything below it, as in the SQL filter."""
    parts = namespace.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class IndexBusy(Exception):
    """The index cannot answer now (another thread or process is writing it, or it failed and
    will be opened again): search the store directly."""


class Source(Protocol):
    """What the index reads from the store (SQLiteStore provides it)."""

    def ranked_state(self) -> tuple[int, int, int]: ...
    def iter_index_rows(self, after_rowid: int, upto_rowid: int) -> Iterable[list[Any]]: ...
    def ranked_pending(self, after_seq: int) -> tuple[int, list[int]]: ...
    def index_rows(self, rowids: Sequence[int]) -> list[Any]: ...
    def quiet(self) -> AbstractContextManager[bool]: ...


class LexicalIndex:
    """BM25 top-k over records' text and index context, with the store's filters inside."""

    def __init__(self, path: Path | None = None, text_repeats: int = 2, store_id: str = "") -> None:
        self.path = path
        self.text_repeats = max(1, text_repeats)
        # Layout, weighting and the database it was built from: any change rebuilds it.
        self.format = f"{FORMAT}:{self.text_repeats}:{store_id}"
        self.schema = _schema()
        self.analyzer = _analyzer()
        self._lock = threading.RLock()
        self._watermark = -1  # unknown until first read from the index
        self._applied = -1
        self._index: Any = None

    @property
    def index(self) -> Any:
        """The Tantivy index, opened (and its directory made) on first use."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._open()
        return self._index

    def _open(self) -> Any:
        if self.path is None:
            index = tantivy.Index(self.schema)
        else:
            marker = self.path / "lore-format"
            if self.path.exists() and not self.path.is_dir():
                raise IndexBusy(f"{self.path} is not a directory")
            if self.path.exists() and not _same_format(marker, self.format):
                self._clear()  # another layout, weighting or database: rebuilt from the store
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            except (OSError, ValueError):  # damaged: it is derived, so start it again
                self._clear()
                self.path.mkdir(parents=True)
                index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            marker.write_text(self.format)
        index.register_tokenizer(ANALYZER, self.analyzer)
        return index

    def _clear(self) -> None:
        """Delete the index directory, only if it is one of ours (or empty)."""
        assert self.path is not None
        names = {p.name for p in self.path.iterdir()}
        if names and not names & {"lore-format", "meta.json"}:
            raise IndexBusy(f"{self.path} holds files that are not a Lore index: left alone")
        shutil.rmtree(self.path)

    # -- writing --------------------------------------------------------------
    def _writer(self) -> Any:
        try:
            return self.index.writer(WRITER_HEAP, 1)
        except ValueError as exc:
            if "LockBusy" in str(exc):
                raise IndexBusy(str(exc)) from exc
            raise

    def _document(self, row: IndexRow) -> Any:
        rowid, text, context, namespace, actor, session, kind, occurred = row
        # One body holding the text `text_repeats` times and the context once: BM25 then
        # weighs the record's own words over its neighbours' (as FTS5's column weights 1 and
        # 1/text_repeats do) with one saturation and one length, as FTS5's bm25() does. Two
        # fields scored apart lost 4 points of LoCoMo R@10 (docs/benchmarks.md).
        body = "\n".join([text] * self.text_repeats + [context or ""])
        doc = tantivy.Document(rowid=rowid, body=body, kind=kind)
        for prefix in namespace_prefixes(namespace):
            doc.add_text(NAMESPACE, prefix)
        if actor is not None:
            doc.add_text(ACTOR, actor)
        if session is not None:
            doc.add_text(SESSION, session)
        if occurred is not None:
            doc.add_float(OCCURRED, float(occurred))
        return doc

    def state(self) -> tuple[int, int]:
        """(the store's newest rowid, the last visibility-log entry applied) at the last
        commit; (0, 0) when never built."""
        self.index.reload()
        searcher = self.index.searcher()
        query = tantivy.Query.term_query(self.schema, ROWID, SENTINEL)
        hits = searcher.search(query, 1, count=False).hits
        if not hits:
            return 0, 0
        address = [hits[0][1]]
        mark = searcher.fast_field_values(MARK, address)[0]
        applied = searcher.fast_field_values(APPLIED, address)[0]
        return int(mark or 0), int(applied or 0)

    def watermark(self) -> int:
        """The store's newest rowid when the index last committed (0: never built)."""
        return self.state()[0]

    def applied(self) -> int:
        """The last visibility-log entry the index has applied (kept after a commit, so the
        log can be cleared up to it)."""
        return max(self._applied, self.state()[1])

    def catch_up(self, store: Source, progress: Callable[[int], None] | None = None) -> None:
        """Take in the records added since the watermark and apply the store's log of hides,
        shows and deletions; `progress(n)` hears of each batch of records added.

        Raises IndexBusy while another thread or process is writing the index, or a
        transaction is open on the store's connection (a search never waits: it ranks with
        FTS5 meanwhile), or when the index failed (it is opened again on the next call).
        """
        newest, logged, _ = store.ranked_state()
        if self._watermark == newest and logged <= self._applied:
            self.index.reload()  # another process may have committed meanwhile
            return
        if not self._lock.acquire(blocking=False):
            raise IndexBusy("another thread is bringing the ranked index up to date")
        try:
            with store.quiet() as quiet:
                if not quiet:
                    raise IndexBusy("a transaction is open on the store's connection")
                self._catch_up(store, progress)
        except (OSError, ValueError) as exc:
            if "LockBusy" in str(exc):
                raise IndexBusy(str(exc)) from exc
            self._index, self._watermark, self._applied = None, -1, -1  # reopen next time
            raise IndexBusy(f"the ranked index failed: {exc}") from exc
        finally:
            self._lock.release()

    def _catch_up(self, store: Source, progress: Callable[[int], None] | None) -> None:
        newest, logged, issued = store.ranked_state()
        mark, applied = self.state()
        if mark == newest and logged <= applied <= issued:  # caught up by someone else
            self._watermark, self._applied = newest, applied
            return
        writer = self._writer()  # held from here: no other catch-up moves the watermark
        try:
            newest, logged, issued = store.ranked_state()
            mark, applied = self.state()
            if mark == 0 or applied > issued:
                # Never built, or the database went back in time (a restored backup has
                # handed out fewer log entries than were applied): start from it as it is.
                writer.delete_all_documents()
                mark = applied = 0
            elif mark > newest:
                # Records after the newest are gone (forgotten, or a restored backup): drop
                # any left, so a rowid handed out again never finds old text.
                writer.delete_documents_by_query(tantivy.Query.range_query(
                    self.schema, ROWID, tantivy.FieldType.Integer, newest + 1, mark
                ))
            for batch in store.iter_index_rows(min(mark, newest), newest):
                for row in batch:
                    writer.add_document(self._document(row))
                if progress is not None:
                    progress(len(batch))
            # Hidden, shown again or deleted since: drop each, then add back the visible ones
            # (a deleted rowid may since hold a new record). Deletes in Tantivy apply to the
            # documents added before them, so the re-added ones stay.
            seq, changed = store.ranked_pending(applied)
            for rowid in changed:
                writer.delete_documents_by_term(ROWID, int(rowid))
            for row in store.index_rows([r for r in changed if r <= newest]):
                writer.add_document(self._document(row))
            writer.delete_documents_by_term(ROWID, SENTINEL)
            writer.add_document(tantivy.Document(rowid=SENTINEL, mark=newest, applied=seq))
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # releases the lock; merges of small segments are quick
        self.index.reload()
        self._watermark, self._applied = newest, seq

    # -- reading --------------------------------------------------------------
    def tokens(self, terms: Sequence[str]) -> list[str]:
        """Distinct index tokens of query `terms`, in order."""
        out: dict[str, None] = {}
        for term in terms:
            for token in self.analyzer.analyze(term):
                out.setdefault(token, None)
        return list(out)

    def search(self, terms: Sequence[str], filters: Filters, limit: int) -> list[tuple[int, float]]:
        """(rowid, BM25 score) of the best `limit` records holding any of `terms` within
        `filters`, best first (ties by rowid)."""
        tokens = self.tokens(terms)
        if not tokens or limit <= 0:
            return []
        schema, query_cls, should = self.schema, tantivy.Query, tantivy.Occur.Should
        query = query_cls.boolean_query(
            [(should, query_cls.term_query(schema, BODY, token)) for token in tokens]
        )
        scope = self._filter_query(filters)
        if scope is not None:
            must = tantivy.Occur.Must
            query = query_cls.boolean_query([(must, scope), (must, query)])
        searcher = self.index.searcher()
        hits = searcher.search(query, limit, count=False).hits
        if not hits:
            return []
        rowids = searcher.fast_field_values(ROWID, [address for _, address in hits])
        ranked = [(int(r), float(score)) for r, (score, _) in zip(rowids, hits, strict=True)]
        return sorted(ranked, key=lambda item: (-item[1], item[0]))

    def _filter_query(self, filters: Filters) -> Any | None:
        """The filters as one unscored query (None when nothing is filtered)."""
        schema, query_cls = self.schema, tantivy.Query
        must = tantivy.Occur.Must
        parts = []
        if filters.namespace:
            parts.append(query_cls.term_query(schema, NAMESPACE, filters.namespace))
        for field, values in ((ACTOR, filters.actors), (SESSION, filters.sessions),
                              (KIND, filters.kinds)):
            if values:
                parts.append(query_cls.term_set_query(schema, field, list(values)))
        if filters.since is not None or filters.until is not None:
            low = None if filters.since is None else to_epoch(filters.since)
            high = None if filters.until is None else to_epoch(filters.until)
            parts.append(query_cls.range_query(
                schema, OCCURRED, tantivy.FieldType.Float, low, high,
                include_upper=high is None,
            ))
        if not parts:
            return None
        return query_cls.const_score_query(query_cls.boolean_query([(must, p) for p in parts]), 0.0)

    def __len__(self) -> int:
        """Records indexed (the bookkeeping document left out)."""
        searcher = self.index.searcher()
        sentinel = tantivy.Query.term_query(self.schema, ROWID, SENTINEL)
        return int(searcher.num_docs) - len(searcher.search(sentinel, 1, count=False).hits)


def _same_format(marker: Path, expected: str) -> bool:
    try:
        return marker.read_text().strip() == expected
    except OSError:
        return False
