"""Drafts to stored records: ids, hashes, index context and vectors, one transaction per batch."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..ids import new_ids
from ..index.contextual import NEIGHBOURS, SessionKey, embedding_text, index_contexts, session_key
from ..index.embed import Embedder
from ..store.sqlite import SQLiteStore, StoredRow
from ..types import RECORD_KINDS, Draft, IngestProblem, IngestReport, from_epoch, to_epoch

if TYPE_CHECKING:
    from ..redact import Redactor

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
# Drafts per transaction. FTS5 writes each commit's terms as a new segment, once per distinct
# term, so bigger batches write (and later merge) less: 4,096 took 14% less CPU per record than
# 1,024 (docs/benchmarks.md, Ingest throughput).
BATCH_SIZE = 4096


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
    return _content_hash(draft, to_epoch(draft.occurred_at))


_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False), made once
_JSON_ANY = json.JSONEncoder(ensure_ascii=False, default=str)
# Epoch seconds that surely read back as a datetime (a day inside years 1 to 9999).
_SAFE_EPOCHS = (-62_135_596_800.0 + 86_400, 253_402_300_799.0 - 86_400)


def _payload_encoder() -> Callable[[list[object]], str]:
    """`_JSON.encode` for the flat list a content hash is made of, minus building a C encoder
    at every call (the same text, checked here; else `_JSON.encode` itself)."""
    try:
        from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]

        encoder = c_make_encoder(
            None, _JSON.default, c_encode_basestring, None, ": ", ", ", False, False, True
        )
        sample: list[object] = ["k", None, 3, 'a\u00e9"\n\u2028', None, 1736153000.25, "t"]
        if "".join(encoder(sample, 0)) == _JSON.encode(sample):
            return lambda value: "".join(encoder(value, 0))
    except (ImportError, TypeError):
        pass
    return _JSON.encode


_encode_payload = _payload_encoder()


def _content_hash(draft: Draft, occurred_at: float | None) -> str:
    payload = _encode_payload(
        [
            draft.kind,
            draft.session_id,
            draft.seq,
            draft.actor,
            draft.role,
            occurred_at,
            draft.text,
        ]
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


_KINDS = frozenset(RECORD_KINDS)
_valid_namespaces: set[str] = set()  # relative namespaces already matched, e.g. "eng"


def _problem(draft: Draft) -> str | None:
    """Why a draft cannot be stored, or None."""
    if not isinstance(draft.kind, str) or draft.kind not in _KINDS:
        return f"unknown kind {draft.kind!r}; use one of {', '.join(RECORD_KINDS)}"
    if not draft.text or draft.text.isspace():
        return "empty text"
    space = draft.namespace
    if space is not None and space not in _valid_namespaces:
        if not NAMESPACE_PATTERN.match(space):
            return f"invalid namespace {space!r}"
        if len(_valid_namespaces) < 10_000:
            _valid_namespaces.add(space)
    if draft.occurred_at is not None:
        try:  # a time that cannot be read back as a UTC datetime would break every search
            epoch = to_epoch(draft.occurred_at)
            if not _SAFE_EPOCHS[0] < epoch < _SAFE_EPOCHS[1]:  # type: ignore[operator]
                from_epoch(epoch)
        except (OverflowError, ValueError, OSError):
            return f"time out of range: {draft.occurred_at!r}"
    return None


def _unstored(rows: list[StoredRow], stored: set[tuple[str, ...]]) -> list[int]:
    """Positions of the rows neither stored nor repeating an earlier row of the batch."""
    seen = set(stored)
    out = []
    for i, row in enumerate(rows):
        key = row.identity
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


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
        reason = _problem(draft)
        if reason is None:
            return None
        line = draft.metadata.get("line") if isinstance(draft.metadata, dict) else None
        return IngestProblem(uri, line, reason)

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
        contexts = index_contexts(drafts, self._stored_turns(drafts, namespace), self.neighbours)
        rows: list[StoredRow] = []
        for draft, record_id, context, audit in zip(
            drafts, new_ids(len(drafts)), contexts, audits, strict=True
        ):
            occurred_at = to_epoch(draft.occurred_at)
            metadata = draft.metadata
            rows.append(
                StoredRow(
                    record_id,
                    f"{namespace}/{draft.namespace}" if draft.namespace else namespace,
                    connector,
                    uri,
                    draft.source_id or "",
                    draft.session_id,
                    draft.seq,
                    draft.actor,
                    draft.role,
                    draft.kind,
                    draft.text,
                    occurred_at,
                    now,
                    "{}" if type(metadata) is dict and not metadata else _JSON_ANY.encode(metadata),
                    _content_hash(draft, occurred_at),
                    audit,
                    context,
                )
            )
        # Vectors are made before the transaction, for the rows not stored yet, so the write
        # lock is held only while inserting; the insert checks for duplicates again under it.
        unstored = _unstored(rows, self.store.stored_identities(rows))
        embedded = self._embed(drafts, unstored)
        hidden: list[int] = []
        shown: list[int] = []
        with self.store.transaction():
            inserted = self.store.insert_rows(rows)
            new = [(i, got) for i, got in enumerate(inserted) if got is not None]
            if new:
                positions = [i for i, _ in new]
                if positions == unstored:
                    vectors = embedded
                else:  # another writer stored or forgot some of them meanwhile
                    at = {i: k for k, i in enumerate(unstored)}
                    missing = [i for i in positions if i not in at]
                    at.update({i: len(unstored) + k for k, i in enumerate(missing)})
                    late = self._embed(drafts, missing)
                    vectors = np.concatenate([embedded, late])[[at[i] for i in positions]]
                rowids = [rowid for _, (rowid, _) in new]
                self.store.insert_vectors(rowids, vectors)
                added = [(rowid, rows[i]) for i, (rowid, _) in new]
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
        tally.record_ids.extend(record_id for _, (_, record_id) in new)

    def _embed(self, drafts: list[Draft], which: list[int]) -> np.ndarray:
        if not which:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return self.embedder.embed([embedding_text(drafts[i]) for i in which])

    def _stored_turns(self, drafts: list[Draft], namespace: str) -> dict[SessionKey, list[str]]:
        """The texts of the stored turns just before each session's first draft here."""
        previous: dict[SessionKey, list[str]] = {}
        if not self.neighbours:
            return previous
        checked: set[SessionKey] = set()
        for draft in drafts:
            key = session_key(draft)
            if key is not None and key not in checked:
                checked.add(key)
                earlier = self.store.last_in_session(
                    _namespace_of(draft, namespace), key[1], self.neighbours, before_seq=draft.seq
                )
                if earlier:
                    previous[key] = earlier
        return previous

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


def reembed_store(
    store: SQLiteStore, embedder: Embedder, progress: Callable[[int], None] | None = None
) -> None:
    """Replace every vector with one from `embedder`, in one transaction, and record it; a
    saved ANN index of the old vectors is deleted (it is rebuilt from the new ones)."""
    with store.transaction():
        for rowids, drafts in store.iter_embedding_inputs():
            store.insert_vectors(rowids, embedder.embed([embedding_text(d) for d in drafts]))
            if progress is not None:
                progress(len(rowids))
        store.set_meta("embedder", embedder.identity)
    if store.path != ":memory:":
        for stale in Path(store.path).parent.glob(Path(store.path).name + ".ann*"):
            stale.unlink()
