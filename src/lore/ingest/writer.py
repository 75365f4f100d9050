"""Drafts to stored records: ids, hashes, index context and vectors, one transaction per batch."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..ids import new_id
from ..index.contextual import NEIGHBOURS, SessionKey, embedding_text, index_contexts, session_key
from ..index.embed import Embedder
from ..store.sqlite import SQLiteStore, StoredRow
from ..types import RECORD_KINDS, Draft, IngestProblem, IngestReport, from_epoch, to_epoch

if TYPE_CHECKING:
    from ..redact import Redactor

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
BATCH_SIZE = 256


def check_namespace(namespace: str) -> str:
    """`namespace` if it is a valid path such as `acme/eng/payments`, else a ConfigError."""
    if not NAMESPACE_PATTERN.match(namespace or ""):
        raise ConfigError(
            f"invalid namespace {namespace!r}",
            hint="use path segments of letters, digits, '.', '_' or '-' joined by '/',"
            " e.g. acme/eng",
        )
    return namespace


def _namespace_of(draft: Draft, namespace: str) -> str:
    """A draft's namespace is relative to the one it is written under."""
    return f"{namespace}/{draft.namespace}" if draft.namespace else namespace


def content_hash(draft: Draft) -> str:
    """What makes two drafts from the same source the same record."""
    payload = json.dumps(
        [
            draft.kind,
            draft.session_id,
            draft.seq,
            draft.actor,
            draft.role,
            to_epoch(draft.occurred_at),
            draft.text,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class WriteTally:
    added: int = 0
    duplicates: int = 0
    problems: list[IngestProblem] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)  # rowids superseded by this write
    shown: list[int] = field(default_factory=list)  # rowids visible again
    hashes: set[str] | None = None  # content hashes of every valid draft, when asked for

    def report(self) -> IngestReport:
        return IngestReport(
            self.added,
            self.duplicates,
            len(self.problems),
            tuple(self.problems),
            tuple(self.record_ids),
        )


def _batches(
    items: Iterable[Draft | IngestProblem], size: int
) -> Iterator[list[Draft | IngestProblem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class RecordWriter:
    """Stores drafts idempotently; each batch of records and vectors lands whole or not at all."""

    def __init__(
        self,
        store: SQLiteStore,
        embedder: Embedder,
        on_vectors: Callable[[list[int], object], None] | None = None,
        neighbours: int = NEIGHBOURS,
        on_visibility: Callable[[list[int], list[int]], None] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.store = store
        self.redactor = redactor  # applied to every draft before anything is computed or stored
        self.embedder = embedder
        self.on_vectors = on_vectors
        self.on_visibility = on_visibility  # (hidden, shown) rowids, after each commit
        self.neighbours = neighbours  # turns each side indexed with a turn (0: none)

    def write(
        self,
        items: Iterable[Draft | IngestProblem],
        *,
        namespace: str,
        connector: str,
        uri: str,
        progress: Callable[[int], None] | None = None,
        versioned: bool = False,
        tally: WriteTally | None = None,
    ) -> IngestReport:
        """Store `items`; with `versioned`, a new content for a stored source id supersedes it.

        Drafts naming `edited_from` or `tombstone_of` (a source id) supersede that item too.
        """
        check_namespace(namespace)
        tally = tally if tally is not None else WriteTally()
        for batch in _batches(items, BATCH_SIZE):
            drafts: list[Draft] = []
            for item in batch:
                if isinstance(item, IngestProblem):
                    tally.problems.append(item)
                elif problem := self._invalid(item, uri):
                    tally.problems.append(problem)
                else:
                    drafts.append(item)
            if drafts:
                self._write_batch(drafts, namespace, connector, uri, tally, versioned)
            if progress is not None:
                progress(len(batch))
        return tally.report()

    def _invalid(self, draft: Draft, uri: str) -> IngestProblem | None:
        line = draft.metadata.get("line") if isinstance(draft.metadata, dict) else None
        if draft.kind not in RECORD_KINDS:
            kinds = ", ".join(RECORD_KINDS)
            return IngestProblem(uri, line, f"unknown kind {draft.kind!r}; use one of {kinds}")
        if not draft.text.strip():
            return IngestProblem(uri, line, "empty text")
        if draft.namespace is not None and not NAMESPACE_PATTERN.match(draft.namespace):
            return IngestProblem(uri, line, f"invalid namespace {draft.namespace!r}")
        if draft.occurred_at is not None:
            try:  # a time that cannot be read back as a UTC datetime would break every search
                from_epoch(to_epoch(draft.occurred_at))
            except (OverflowError, ValueError, OSError):
                return IngestProblem(uri, line, f"time out of range: {draft.occurred_at!r}")
        return None

    def _write_batch(
        self,
        drafts: list[Draft],
        namespace: str,
        connector: str,
        uri: str,
        tally: WriteTally,
        versioned: bool = False,
    ) -> None:
        audits = ["[]"] * len(drafts)
        if self.redactor is not None:  # before hashes, index context and vectors are made
            spaces = [_namespace_of(draft, namespace) for draft in drafts]
            drafts, audits = self.redactor.redact_batch(drafts, spaces)
            if not drafts:
                return
        now = time.time()
        previous: dict[SessionKey, list[str]] = {}
        checked: set[SessionKey] = set()
        for draft in drafts:
            key = session_key(draft)
            if key is not None and key not in checked and self.neighbours:
                checked.add(key)
                earlier = self.store.last_in_session(
                    _namespace_of(draft, namespace), key[1], self.neighbours, before_seq=draft.seq
                )
                if earlier:
                    previous[key] = earlier
        contexts = index_contexts(drafts, previous, self.neighbours)
        rows = [
            StoredRow(
                id=new_id(),
                namespace=_namespace_of(draft, namespace),
                connector=connector,
                uri=uri,
                source_id=draft.source_id or "",
                session_id=draft.session_id,
                seq=draft.seq,
                actor=draft.actor,
                role=draft.role,
                kind=draft.kind,
                text=draft.text,
                occurred_at=to_epoch(draft.occurred_at),
                recorded_at=now,
                metadata=json.dumps(draft.metadata, ensure_ascii=False, default=str),
                content_hash=content_hash(draft),
                redactions=audit,
                context=context,
            )
            for draft, context, audit in zip(drafts, contexts, audits, strict=True)
        ]
        hidden: list[int] = []
        shown: list[int] = []
        with self.store.transaction():
            inserted = self.store.insert_rows(rows)
            new = [(got, draft) for got, draft in zip(inserted, drafts, strict=True) if got]
            if new:
                vectors = self.embedder.embed([embedding_text(d) for _, d in new])
                rowids = [got[0] for got, _ in new]
                self.store.insert_vectors(rowids, vectors)
                added = [(got[0], row) for got, row in zip(inserted, rows, strict=True) if got]
                hidden, shown = self._supersede(added, connector, versioned)
        if new and self.on_vectors is not None:
            self.on_vectors(rowids, vectors)
        if new and (hidden or shown):
            tally.hidden.extend(hidden)
            tally.shown.extend(shown)
            if self.on_visibility is not None:
                self.on_visibility(hidden, shown)
        if tally.hashes is not None:
            tally.hashes.update(row.content_hash for row in rows)
        tally.added += len(new)
        tally.duplicates += len(rows) - len(new)
        tally.record_ids.extend(got[1] for got, _ in new)

    def _supersede(
        self, added: list[tuple[int, StoredRow]], connector: str, versioned: bool
    ) -> tuple[list[int], list[int]]:
        """Resolve which versions stay visible for every source item these new rows touch."""
        subjects: set[tuple[str, str]] = set()
        plain: dict[str, list[str]] = {}
        for rowid, row in added:
            linked = False
            if "tombstone_of" in row.metadata or "edited_from" in row.metadata:
                metadata = json.loads(row.metadata)
                for key, kind in (("tombstone_of", "tombstone"), ("edited_from", "edit")):
                    target = metadata.get(key)
                    if isinstance(target, str) and target:
                        self.store.link_supersession(rowid, row.namespace, connector, target, kind)
                        subjects.add((row.namespace, target))
                        linked = True
            if row.source_id and versioned and not linked:
                subjects.add((row.namespace, row.source_id))
            elif row.source_id and not linked:
                plain.setdefault(row.namespace, []).append(row.source_id)
        for ns, source_ids in plain.items():  # an original stored after its edit or tombstone
            late = self.store.superseded_targets(ns, connector, source_ids)
            subjects.update((ns, source_id) for source_id in late)
        hidden: list[int] = []
        shown: list[int] = []
        for ns, subject in sorted(subjects):
            more_hidden, more_shown = self.store.resolve_versions(ns, connector, subject)
            hidden += more_hidden
            shown += more_shown
        return hidden, shown
