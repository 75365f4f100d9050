"""Ranked full-text search for big stores: a Tantivy index derived from the records table.

SQLite's FTS5 scores every record that holds a query word (about 1.3 us each), so an OR query
over a large store costs tens of milliseconds. Tantivy keeps block-max metadata in its posting
lists and skips the blocks that cannot reach the current top k (block-max WAND; Ding & Suel,
2011), so the same BM25 top 1,000 costs a few milliseconds at 1M records
(docs/benchmarks.md, Speed).

The index is derived, never the source of truth: it lives in a directory beside the database,
holds only visible records, and catches up from the store by rowid before each search, so it
can be deleted at any time and is rebuilt on the next search. Records are append-only (an edit
is a new record that hides the old one), so a rowid watermark is all the bookkeeping it needs.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import tantivy

from ..types import Filters, to_epoch

# Fields. The body keeps term frequencies but no positions: ranking needs no phrases.
ROWID, BODY = "rowid", "body"
NAMESPACE, ACTOR, SESSION, KIND, OCCURRED = "namespace", "actor", "session", "kind", "occurred"
ANALYZER = "lore_en"
WRITER_HEAP = 64_000_000
FORMAT = 2

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
    return builder.build()


def namespace_prefixes(namespace: str) -> list[str]:
    """"acme/eng/web" -> ["acme", "acme/eng", "acme/eng/web"]: a namespace filter is then
    one term, matching the namespace and everything below it, as in the SQL filter."""
    parts = namespace.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class IndexBusy(Exception):
    """Another writer (thread or process) holds the index: search the store directly."""


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
            if self.path.exists() and not _same_format(marker, self.format):
                shutil.rmtree(self.path)  # another layout or database: rebuilt from the store
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            except (OSError, ValueError):  # damaged: it is derived, so start it again
                shutil.rmtree(self.path)
                self.path.mkdir(parents=True)
                index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            marker.write_text(self.format)
        index.register_tokenizer(ANALYZER, self.analyzer)
        return index

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

    def _commit(self, writer: Any) -> None:
        writer.commit()
        writer.wait_merging_threads()  # releases the lock; merges of small segments are quick
        self.index.reload()

    def watermark(self) -> int:
        """The highest rowid indexed (read from the index, so other writers count too)."""
        self.index.reload()
        hits = self.index.searcher().search(
            tantivy.Query.all_query(), 1, count=False, order_by_field=ROWID
        ).hits
        return int(hits[0][0]) if hits else 0

    def catch_up(
        self, newest: int, rows_after: Any, progress: Callable[[int], None] | None = None
    ) -> None:
        """Index the rows after the watermark, up to the store's `newest` rowid.

        `rows_after(rowid)` yields batches of IndexRow above `rowid`, hidden records left out;
        `progress(n)` hears of each batch. Raises IndexBusy when another writer holds it.
        """
        if self._watermark >= newest:
            return
        # A search never waits for another thread's catch-up (45 s for a fresh 1M-record
        # store): it ranks with FTS5 meanwhile.
        if not self._lock.acquire(blocking=False):
            raise IndexBusy("another thread is bringing the ranked index up to date")
        try:
            self._catch_up(newest, rows_after, progress)
        finally:
            self._lock.release()

    def _catch_up(
        self, newest: int, rows_after: Any, progress: Callable[[int], None] | None
    ) -> None:
        if self.watermark() == newest:  # another writer caught it up
            self._watermark = newest
            return
        writer = self._writer()  # held from here, so the watermark cannot move under us
        try:
            mark = self.watermark()
            if mark > newest:  # built for a database since replaced: start again
                writer.delete_all_documents()
                mark = 0
            for batch in rows_after(mark):
                for row in batch:
                    writer.add_document(self._document(row))
                if progress is not None:
                    progress(len(batch))
        except BaseException:
            writer.rollback()
            writer.wait_merging_threads()
            raise
        self._commit(writer)
        self._watermark = newest

    def remove(self, rowids: Iterable[int]) -> None:
        """Drop records (forgotten or hidden); raises IndexBusy when another writer holds it."""
        rowids = list(rowids)
        if not rowids:
            return
        with self._lock:
            writer = self._writer()
            for rowid in rowids:
                writer.delete_documents_by_term(ROWID, int(rowid))
            self._commit(writer)

    def restore(self, rows: Sequence[IndexRow]) -> None:
        """Put back records shown again (their rowids are below the watermark)."""
        if not rows:
            return
        with self._lock:
            writer = self._writer()
            for row in rows:
                writer.delete_documents_by_term(ROWID, row[0])  # never twice
                writer.add_document(self._document(row))
            self._commit(writer)

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
        return int(self.index.searcher().num_docs)


def _same_format(marker: Path, expected: str) -> bool:
    try:
        return marker.read_text().strip() == expected
    except OSError:
        return False
