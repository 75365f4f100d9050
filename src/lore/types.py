"""Lore's public result and query types: small, frozen, serialisable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

RECORD_KINDS = ("message", "tool_call", "tool_result", "utterance", "document_chunk", "event")
SEARCH_MODES = ("hybrid", "fts", "vector")
MEMORY_KINDS = ("fact", "procedure", "decision", "episode")
SearchMode = Literal["hybrid", "fts", "vector"]


def to_iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def to_epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record came from: the connector, the file or URI, and the item's id there."""

    connector: str
    uri: str
    source_id: str


@dataclass(frozen=True, slots=True)
class Draft:
    """A record before it is stored: what connectors produce and `Lore.add` accepts.

    `namespace`, when set, is relative to the namespace the draft is written under.
    """

    text: str
    kind: str = "message"
    session_id: str | None = None
    seq: int | None = None
    actor: str | None = None
    role: str | None = None
    occurred_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source_id: str | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One immutable piece of evidence."""

    id: str
    namespace: str
    source: Source
    session_id: str | None
    seq: int | None
    actor: str | None
    role: str | None
    kind: str
    text: str
    occurred_at: datetime | None
    recorded_at: datetime
    metadata: dict[str, Any]
    content_hash: str
    redactions: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = to_iso(self.occurred_at)
        data["recorded_at"] = to_iso(self.recorded_at)
        data["redactions"] = list(self.redactions)
        return data


@dataclass(frozen=True, slots=True)
class Filters:
    """Scope of a query; applied inside each retriever, before top-k."""

    namespace: str | None = None
    actors: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "actors": list(self.actors),
            "sessions": list(self.sessions),
            "kinds": list(self.kinds),
            "since": to_iso(self.since),
            "until": to_iso(self.until),
        }


@dataclass(frozen=True, slots=True)
class Query:
    """A search request, built the same way by every interface."""

    text: str
    k: int = 10
    mode: SearchMode = "hybrid"
    filters: Filters = field(default_factory=Filters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "k": self.k,
            "mode": self.mode,
            "filters": self.filters.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class RetrieverHit:
    """How one retriever ranked a hit (rank is 1-based)."""

    rank: int
    score: float


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the record, its fused score and why each retriever found it."""

    record: Record
    score: float
    why: dict[str, RetrieverHit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record.to_dict(),
            "score": self.score,
            "why": {name: {"rank": h.rank, "score": h.score} for name, h in self.why.items()},
        }


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a fragment's text comes from."""

    source: str
    session_id: str | None
    actor: str | None
    occurred_at: datetime | None
    record_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "session_id": self.session_id,
            "actor": self.actor,
            "occurred_at": to_iso(self.occurred_at),
            "record_ids": list(self.record_ids),
        }


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of context: text, its citation and a handle (`id`) that `expand` accepts."""

    id: str
    kind: str
    text: str
    citation: Citation
    score: float
    tokens: int
    why: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "citation": self.citation.to_dict(),
            "score": self.score,
            "tokens": self.tokens,
            "why": list(self.why),
        }


@dataclass(frozen=True, slots=True)
class ContextPack:
    """Fragments packed under a token budget, in reading order."""

    query: str
    budget_tokens: int
    tokens: int
    encoding: str
    fragments: tuple[Fragment, ...]

    def render(self, format: Literal["markdown", "json"] = "markdown") -> str:
        """The pack as cited markdown for a prompt, or as JSON."""
        from .context.render import render_json, render_markdown

        return render_markdown(self) if format == "markdown" else render_json(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "budget_tokens": self.budget_tokens,
            "tokens": self.tokens,
            "encoding": self.encoding,
            "fragments": [f.to_dict() for f in self.fragments],
        }


@dataclass(frozen=True, slots=True)
class IngestProblem:
    """One item that could not be ingested, and why."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest did: counts and every problem, with file and line."""

    added: int
    duplicates: int
    failed: int
    problems: tuple[IngestProblem, ...] = ()
    record_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "failed": self.failed,
            "problems": [
                {"file": p.file, "line": p.line, "reason": p.reason} for p in self.problems
            ],
        }


@dataclass(frozen=True, slots=True)
class Expansion:
    """The evidence behind a fragment handle, with its neighbouring records."""

    handle: str
    records: tuple[Record, ...]
    focus: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "focus": list(self.focus),
            "records": [r.to_dict() for r in self.records],
        }


@dataclass(frozen=True, slots=True)
class Memory:
    """Something distilled from records (an episode, fact, decision or procedure), citing its
    evidence. World-time validity is [valid_from, valid_to); a superseded memory is kept."""

    id: str
    namespace: str
    kind: str
    text: str
    entities: tuple[str, ...]
    subject: str | None
    attribute: str | None
    value: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    recorded_at: datetime
    superseded_at: datetime | None
    superseded_by: str | None
    evidence: tuple[str, ...]
    confidence: float
    method: str

    @property
    def handle(self) -> str:
        return f"memory:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("valid_from", "valid_to", "recorded_at", "superseded_at"):
            data[name] = to_iso(getattr(self, name))
        data["entities"] = list(self.entities)
        data["evidence"] = list(self.evidence)
        return data


@dataclass(frozen=True, slots=True)
class MemoryHit:
    """A memory found by a search, its fused score and why each retriever found it."""

    memory: Memory
    score: float
    why: dict[str, RetrieverHit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory": self.memory.to_dict(),
            "score": self.score,
            "why": {name: {"rank": h.rank, "score": h.score} for name, h in self.why.items()},
        }
