"""HTTP request and response bodies: typed mirrors of the engine's types."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..context.expand import MAX_WINDOW
from ..context.pack import MAX_BUDGET
from ..context.render import render_markdown
from ..ingest.writer import NAMESPACE_PATTERN
from ..types import (
    ContextPack,
    Draft,
    Expansion,
    Filters,
    Hit,
    IngestReport,
    Memory,
    Query,
    Record,
    from_epoch,
    to_epoch,
)

Kind = Literal["message", "tool_call", "tool_result", "utterance", "document_chunk", "event"]
Mode = Literal["hybrid", "fts", "vector"]
Encoding = Literal["cl100k_base", "o200k_base"]
MemoryKind = Literal["fact", "procedure", "decision", "episode"]
MAX_TEXT = 200_000  # characters in one record
MAX_LIST = 100  # values in one filter list
NEXT_CURSOR = "Pass as `cursor` for the next page; null at the end."
NAMESPACE_FIELD = "A namespace path such as acme/eng; it covers everything below it."
NAMESPACE = NAMESPACE_PATTERN.pattern


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shared --------------------------------------------------------------------
class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, access_denied.")
    message: str = Field(description="One line saying what went wrong.")
    details: dict[str, Any] = Field(description="More context: a hint, a file and line, ...")


class ErrorEnvelope(BaseModel):
    """Every failed request answers with this body."""

    error: ErrorBody


class SourceOut(BaseModel):
    connector: str
    uri: str
    source_id: str


class RecordOut(BaseModel):
    """One immutable piece of evidence."""

    id: str
    namespace: str
    source: SourceOut
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
    redactions: list[dict[str, Any]]

    @classmethod
    def of(cls, record: Record) -> RecordOut:
        return cls.model_validate(record.to_dict())


class FilterFields(Input):
    namespace: str | None = Field(
        None, description=NAMESPACE_FIELD, max_length=512, pattern=NAMESPACE
    )
    actors: list[str] = Field([], description="Only these actors.", max_length=MAX_LIST)
    sessions: list[str] = Field([], description="Only these sessions.", max_length=MAX_LIST)
    kinds: list[Kind] = Field([], description="Only these record kinds.", max_length=MAX_LIST)
    since: datetime | None = Field(None, description="Only records at or after this time.")
    until: datetime | None = Field(None, description="Only records before this time.")

    def filters(self) -> Filters:
        return Filters(
            self.namespace, tuple(self.actors), tuple(self.sessions), tuple(self.kinds),
            self.since, self.until,
        )


# -- search --------------------------------------------------------------------
class SearchIn(FilterFields):
    query: str = Field(description="What to look for; any text is safe.", max_length=4000)
    k: int = Field(10, ge=1, le=100, description="Hits per page.")
    mode: Mode = Field("hybrid", description="Retrievers: both fused, full text or vectors.")
    cursor: str | None = Field(
        None, description="`next_cursor` of the previous page.", max_length=16
    )


class FiltersOut(BaseModel):
    namespace: str | None
    actors: list[str]
    sessions: list[str]
    kinds: list[str]
    since: datetime | None
    until: datetime | None


class QueryOut(BaseModel):
    text: str
    k: int
    mode: str
    filters: FiltersOut

    @classmethod
    def of(cls, query: Query) -> QueryOut:
        return cls.model_validate(query.to_dict())


class RetrieverHitOut(BaseModel):
    rank: int = Field(description="1-based rank in this retriever's list.")
    score: float


class HitOut(BaseModel):
    record: RecordOut
    score: float = Field(description="Fused score; higher is better.")
    why: dict[str, RetrieverHitOut] = Field(description="Which retrievers found it, and how.")

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls.model_validate(hit.to_dict())


class SearchOut(BaseModel):
    query: QueryOut = Field(description="The query as run, after confining its namespace.")
    hits: list[HitOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# -- context -------------------------------------------------------------------
class ContextIn(FilterFields):
    query: str = Field(description="The question the context is for.", max_length=4000)
    budget_tokens: int = Field(2000, ge=1, le=MAX_BUDGET, description="Token budget, exact.")
    encoding: Encoding = Field("cl100k_base", description="Tokenizer that counts the budget.")


class CitationOut(BaseModel):
    source: str
    session_id: str | None
    actor: str | None
    occurred_at: datetime | None
    record_ids: list[str]


class FragmentOut(BaseModel):
    id: str = Field(description="Handle for /v1/expand: record:<id> or record:<first>..<last>.")
    kind: str
    text: str
    citation: CitationOut
    score: float
    tokens: int
    why: list[str]


class ContextOut(BaseModel):
    query: str
    budget_tokens: int
    tokens: int = Field(description="Exact tokens of `markdown`; never above the budget.")
    encoding: str
    fragments: list[FragmentOut]
    markdown: str = Field(description="The pack as cited markdown, ready for a prompt.")

    @classmethod
    def of(cls, pack: ContextPack) -> ContextOut:
        return cls.model_validate({**pack.to_dict(), "markdown": render_markdown(pack)})


# -- expand, records -----------------------------------------------------------
class ExpandIn(Input):
    handle: str = Field(description="A fragment handle such as record:<id>.", max_length=200)
    window: int = Field(3, ge=0, le=MAX_WINDOW, description="Session neighbours each side.")


class ExpansionOut(BaseModel):
    handle: str
    focus: list[str] = Field(description="Ids of the records the handle names.")
    records: list[RecordOut] = Field(description="The focus with its neighbours, in order.")

    @classmethod
    def of(cls, expansion: Expansion) -> ExpansionOut:
        return cls.model_validate(expansion.to_dict())


# -- fold ----------------------------------------------------------------------
class FoldIn(Input):
    messages: list[dict[str, Any]] = Field(
        min_length=1, max_length=20000,
        description="The conversation: OpenAI chat messages, tool calls and results included.",
    )
    budget_tokens: int = Field(ge=1, le=MAX_BUDGET, description="Token budget, never exceeded.")
    namespace: str | None = Field(
        None, max_length=512, pattern=NAMESPACE,
        description="Where the originals are stored; default: the key's namespace.",
    )
    session: str | None = Field(
        None, min_length=1, max_length=200,
        description="Session id for the stored messages; default: derived from them.",
    )
    encoding: Encoding = Field("cl100k_base", description="Tokenizer that counts the budget.")


class MementoOut(BaseModel):
    handle: str = Field(description="fold:<id>; /v1/expand returns the block's messages.")
    text: str
    first: int = Field(description="Index of the block's first message in the input.")
    last: int = Field(description="Index of the block's last message in the input.")
    tokens: int


class FoldOut(BaseModel):
    messages: list[dict[str, Any]] = Field(description="The folded conversation.")
    mementos: list[MementoOut]
    budget_tokens: int
    tokens_before: int
    tokens_after: int = Field(description="Exact tokens of `messages`; never above the budget.")
    encoding: str
    namespace: str
    session: str
    blocks: int
    raw_turns: int = Field(description="Most recent turns kept verbatim.")
    sentences: int = Field(description="Quoted sentences per memento (-1: handle and count).")
    shortened: bool = Field(description="Mementos were cut below the default to fit.")
    dropped: int = Field(description="Oldest mementos left out because nothing smaller fit.")
    stored: int = Field(description="Records added; 0 when folded before.")
    notes: list[str]


class RecordPage(BaseModel):
    records: list[RecordOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# -- writes --------------------------------------------------------------------
class DraftIn(Input):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The record's text.")
    kind: Kind = Field("message", description="Record kind.")
    actor: str | None = Field(None, max_length=200, description="Who said or did it.")
    role: str | None = Field(None, max_length=50, description="user, assistant, tool, ...")
    session: str | None = Field(None, max_length=200, description="Session, thread or channel.")
    seq: int | None = Field(None, ge=0, le=2**53, description="Position in the session.")
    occurred_at: datetime | None = Field(None, description="When it happened (world time).")
    metadata: dict[str, Any] = Field({}, description="Any JSON object, kept as is.")
    source_id: str | None = Field(None, max_length=200, description="The item's id at its source.")
    namespace: str | None = Field(
        None, max_length=200, pattern=NAMESPACE,
        description="A sub-namespace, relative to the request's.",
    )

    @field_validator("occurred_at")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        """Times are stored as UTC epoch seconds and must come back as a datetime."""
        try:
            from_epoch(to_epoch(value))
        except (ValueError, OverflowError, OSError):
            raise ValueError("occurred_at is out of range in UTC (years 1 to 9999)") from None
        return value

    def draft(self) -> Draft:
        return Draft(
            text=self.text, kind=self.kind, session_id=self.session, seq=self.seq,
            actor=self.actor, role=self.role, occurred_at=self.occurred_at,
            metadata=self.metadata, source_id=self.source_id, namespace=self.namespace,
        )


class AddIn(Input):
    records: list[DraftIn] = Field(min_length=1, max_length=1000, description="1 to 1000 records.")
    namespace: str | None = Field(
        None, max_length=512, pattern=NAMESPACE, description=NAMESPACE_FIELD
    )
    source: str = Field("api", min_length=1, max_length=500, description="Names the source.")


class ProblemOut(BaseModel):
    file: str
    line: int | None
    reason: str


class IngestOut(BaseModel):
    added: int
    duplicates: int = Field(description="Already stored; adding is idempotent.")
    failed: int
    problems: list[ProblemOut] = Field(description="Every item that did not land, and why.")
    record_ids: list[str] = Field(description="Ids of the records added.")

    @classmethod
    def of(cls, report: IngestReport) -> IngestOut:
        return cls.model_validate({**report.to_dict(), "record_ids": list(report.record_ids)})


class ForgetIn(Input):
    ids: list[str] = Field(
        min_length=1, max_length=1000, description="Record ids or record:<id> handles."
    )
    reason: str = Field("forget", min_length=1, max_length=500, description="Kept in the audit.")


class ForgetOut(BaseModel):
    forgotten: list[str] = Field(description="Ids deleted (each deletion is audited).")


# -- memories ------------------------------------------------------------------
class DistillIn(Input):
    namespace: str | None = Field(
        None, max_length=512, pattern=NAMESPACE,
        description="Distil only this namespace and below it; default: all of the key's.",
    )
    retry_failed: bool = Field(
        False,
        description="Ask the LLM again for the batches whose answers never validated "
        "(needs LORE_LLM_URL and LORE_LLM_MODEL on the server).",
    )


class DistillOut(BaseModel):
    """What a distill run made, and what it cost (the engine's DistillReport)."""

    namespace: str | None = Field(description="What the run covered (within the key's).")
    sessions: int = Field(description="Sessions with new records (or failed batches retried).")
    records: int = Field(description="New records read.")
    made: dict[str, int] = Field(description="Memories made, by kind.")
    superseded: int = Field(description="Older facts closed by newer incompatible ones.")
    merged: int = Field(description="Memories merged into an existing one (evidence added).")
    method: str = Field(description="rules-v1, or llm:<model> when an LLM is configured.")
    llm_calls: int = Field(description="Chat completions requested.")
    tokens: int = Field(description="Prompt and completion tokens those calls used.")
    seconds: float = Field(description="Wall-clock time of the run.")
    failures: int = Field(description="Batches whose LLM answer never validated (recorded).")


class MemoryOut(BaseModel):
    """Something distilled from records, citing them; superseded memories are kept."""

    id: str
    handle: str = Field(description="memory:<id>; /v1/expand returns its evidence records.")
    namespace: str
    kind: MemoryKind
    text: str
    entities: list[str]
    subject: str | None
    attribute: str | None = Field(description="With `subject`, the fact's slot.")
    value: str | None
    valid_from: datetime | None = Field(description="When it became true (world time).")
    valid_to: datetime | None = Field(description="When it stopped being true; null: still is.")
    recorded_at: datetime = Field(description="When it became known (its evidence was said).")
    superseded_at: datetime | None
    superseded_by: str | None = Field(description="Id of the memory that replaced it.")
    evidence: list[str] = Field(description="Ids of the records it was distilled from.")
    confidence: float
    method: str = Field(description="How it was made: rules-v1 or llm:<model>.")

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        return cls.model_validate({**memory.to_dict(), "handle": memory.handle})


class MemoryPage(BaseModel):
    memories: list[MemoryOut]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class StatsOut(BaseModel):
    namespace: str | None = Field(description="What the counts cover (the key's namespace).")
    records: int
    sessions: int
    vectors: int
    forgotten: int
    hidden: int = Field(0, description="Records kept but left out of search (superseded, removed).")
    namespaces: dict[str, int]
    kinds: dict[str, int]
    memories: dict[str, int] = Field(
        {}, description="Memories stored, by kind (current and superseded)."
    )
    distill_failures: int = Field(
        0, description="LLM batches that never validated, waiting for a retry."
    )
    embedder: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
