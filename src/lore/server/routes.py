"""The /v1 HTTP routes: thin async wrappers that hand typed requests to ScopedLore."""

from __future__ import annotations

import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Security, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import QueryError
from ..requests import make_query
from .auth import LOCAL_KEY, AccessKey, verify_key
from .models import (
    NAMESPACE,
    AddIn,
    ContextIn,
    ContextOut,
    DistillIn,
    DistillOut,
    ErrorEnvelope,
    ExpandIn,
    ExpansionOut,
    FoldIn,
    FoldOut,
    ForgetIn,
    ForgetOut,
    HitOut,
    IngestOut,
    MemoryKind,
    MemoryOut,
    MemoryPage,
    QueryOut,
    RecordOut,
    RecordPage,
    SearchIn,
    SearchOut,
    StatsOut,
)
from .runtime import Runtime
from .scope import MAX_MEMORIES, ScopedLore

MAX_RESULTS = 1000  # a search page may reach this many hits deep, no further

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AccessKey",
    description="An access key from `lore keys create`, sent as `Authorization: Bearer lore_...`.",
)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid query, filter, namespace or argument."),
    401: _error("Missing, unknown or revoked access key."),
    403: _error("The key's scope or namespace does not allow this."),
    413: _error("Request body too large."),
    422: _error("The request body or parameters do not match the schema."),
    503: _error("Storage or embedder temporarily unavailable."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _error("No such record or handle (or not visible to this key).")
}
NO_MEMORY: dict[int | str, dict[str, Any]] = {
    404: _error("No such memory (or not visible to this key).")
}


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def scoped(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ScopedLore:
    """The caller's ScopedLore; every /v1 route depends on this."""
    runtime = runtime_of(request)
    if not request.app.state.auth:
        return ScopedLore(runtime, LOCAL_KEY)
    secret = credentials.credentials if credentials is not None else None
    key: AccessKey = await runtime.read(lambda lore: verify_key(lore.store, secret))
    return ScopedLore(runtime, key)


Scoped = Annotated[ScopedLore, Depends(scoped)]
NamespaceFilter = Annotated[
    str | None, Query(max_length=512, pattern=NAMESPACE, description="Namespace filter.")
]
router = APIRouter(prefix="/v1", responses=ERRORS)


@router.post("/records", response_model=IngestOut, summary="Add records")
async def add_records(body: AddIn, lore: Scoped) -> IngestOut:
    """Add 1 to 1000 records in one call (write scope). Adding the same record again adds
    nothing; invalid records are reported in `problems` and the rest land."""
    report = await lore.add([d.draft() for d in body.records], body.namespace, body.source)
    return IngestOut.of(report)


@router.get("/records", response_model=RecordPage, summary="List records")
async def list_records(
    lore: Scoped,
    namespace: NamespaceFilter = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Records per page.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
    ] = None,
) -> RecordPage:
    """Records visible to the key, oldest first, a page at a time (read scope)."""
    records = await lore.records(namespace, cursor, limit)
    last = records[-1].id if len(records) == limit else None
    return RecordPage(records=[RecordOut.of(r) for r in records], next_cursor=last)


@router.get(
    "/records/{record_id}", response_model=RecordOut, summary="Get a record", responses=NOT_FOUND
)
async def get_record(record_id: str, lore: Scoped) -> RecordOut:
    """One record by id or `record:<id>` handle (read scope); 404 when it does not exist or
    is outside the key's namespace."""
    return RecordOut.of(await lore.get(record_id))


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@router.post("/ingest", response_model=IngestOut, summary="Ingest a file", responses=NOT_FOUND)
async def ingest(
    lore: Scoped,
    file: Annotated[UploadFile, File(description="The file to ingest.")],
    format: Annotated[
        str, Form(max_length=32, description="auto, jsonl, openai, markdown, text, vtt, srt, ...")
    ] = "auto",
    namespace: Annotated[
        str | None, Form(max_length=512, pattern=NAMESPACE, description="Where it lands.")
    ] = None,
    source: Annotated[
        str | None, Form(max_length=500, description="Source name; default: the file name.")
    ] = None,
) -> IngestOut:
    """Ingest one uploaded file in a format Lore reads (write scope). Idempotent per source
    name: uploading the same file again adds nothing. Items that cannot be parsed are
    reported with line and reason; the rest lands."""
    name = _SAFE_NAME.sub("_", Path(file.filename or "upload").name).strip("._") or "upload"
    with tempfile.TemporaryDirectory(prefix="lore-upload-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                out.write(chunk)
        report = await lore.ingest(
            path, format=format, namespace=namespace, source=source or f"upload:{name}"
        )
    out_report = IngestOut.of(report)
    for problem in out_report.problems:  # name the upload, not the server's temporary file
        problem.file = problem.file.replace(str(path), name)
    return out_report


@router.post("/search", response_model=SearchOut, summary="Search")
async def search(body: SearchIn, lore: Scoped) -> SearchOut:
    """Hybrid (BM25 + vector) search within the key's namespace, filters applied before
    top-k; each hit says which retriever found it (read scope). Page with `cursor`."""
    offset = _offset(body.cursor)
    depth = offset + body.k
    if depth > MAX_RESULTS:
        raise QueryError(f"search pages reach at most {MAX_RESULTS} hits deep")
    query = make_query(
        body.query, depth, body.mode, body.namespace, body.actors, body.sessions, body.kinds,
        body.since, body.until,
    )
    hits = await lore.search(query)
    more = len(hits) == depth and depth + body.k <= MAX_RESULTS
    confined = lore.read_namespace(body.namespace)
    shown = QueryOut.of(query)
    shown.k = body.k
    shown.filters.namespace = confined
    return SearchOut(
        query=shown,
        hits=[HitOut.of(h) for h in hits[offset:]],
        next_cursor=str(depth) if more else None,
    )


def _offset(cursor: str | None, deepest: int = MAX_RESULTS) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) > deepest:
        raise QueryError(f"invalid cursor {cursor!r}", hint="pass back `next_cursor` unchanged")
    return int(cursor)


@router.post("/context", response_model=ContextOut, summary="Build a context pack")
async def context(body: ContextIn, lore: Scoped) -> ContextOut:
    """Cited, deduplicated fragments for a question that fit `budget_tokens` exactly, with
    the rendered markdown; each fragment's `id` is a handle for /v1/expand (read scope)."""
    pack = await lore.context(body.query, body.budget_tokens, body.filters(), body.encoding)
    return ContextOut.of(pack)


@router.post("/expand", response_model=ExpansionOut, summary="Expand a handle", responses=NOT_FOUND)
async def expand(body: ExpandIn, lore: Scoped) -> ExpansionOut:
    """The original records behind a fragment handle, with `window` neighbours from the same
    session on each side (read scope)."""
    return ExpansionOut.of(await lore.expand(body.handle, body.window))


@router.post("/fold", response_model=FoldOut, summary="Fold a conversation")
async def fold(body: FoldIn, lore: Scoped) -> FoldOut:
    """Fold a long conversation to fit `budget_tokens` (write scope): recent blocks stay raw,
    older closed blocks become short extractive mementos. The originals are stored; each
    memento's `fold:<id>` handle expands (/v1/expand) to its block's messages, verbatim."""
    result = await lore.fold(
        body.messages, body.budget_tokens, body.namespace, body.session, body.encoding
    )
    return FoldOut.model_validate(result.to_dict())


@router.post("/forget", response_model=ForgetOut, summary="Forget records", responses=NOT_FOUND)
async def forget(body: ForgetIn, lore: Scoped) -> ForgetOut:
    """Delete records for good (admin scope). All or nothing: if any id is unknown or not
    visible to the key, nothing is deleted. Each deletion is audited (id, hash, reason)."""
    return ForgetOut(forgotten=await lore.forget(body.ids, body.reason))


@router.get("/stats", response_model=StatsOut, summary="Counts")
async def stats(
    lore: Scoped,
    namespace: NamespaceFilter = None,
) -> StatsOut:
    """Counts of records, sessions, vectors and forgotten records within the key's namespace,
    by namespace and kind; memories by kind and distillation failures awaiting a retry; and
    the store's embedder (read scope)."""
    return StatsOut.model_validate(await lore.stats(namespace))



@router.post("/distill", response_model=DistillOut, summary="Distil memories")
async def distill(body: DistillIn, lore: Scoped) -> DistillOut:
    """Distil the records not yet distilled, within the key's namespace, into episodes, facts,
    decisions and procedures (write scope). Incremental and idempotent: a second run adds
    nothing. A newer incompatible fact supersedes the older one, which is kept. Rule-based
    unless the server has LORE_LLM_URL and LORE_LLM_MODEL set; the report says what was made
    and what it cost (LLM calls, tokens, seconds). Runs on the writer thread."""
    report, scope = await lore.distill(body.namespace, body.retry_failed)
    return DistillOut.model_validate({**report.to_dict(), "namespace": scope})


@router.get("/memories", response_model=MemoryPage, summary="List memories")
async def list_memories(
    lore: Scoped,
    namespace: NamespaceFilter = None,
    kind: Annotated[
        list[MemoryKind] | None,
        Query(max_length=4, description="Only these kinds (repeat the parameter for more)."),
    ] = None,
    as_of: Annotated[
        datetime | None,
        Query(description="What was true and known then (valid then, recorded by then)."),
    ] = None,
    include_superseded: Annotated[
        bool, Query(description="Also superseded and ended memories (the history).")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=1000, description="Memories per page.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=16, description="`next_cursor` of the previous page.")
    ] = None,
) -> MemoryPage:
    """Memories distilled from the records visible to the key, newest first (read scope):
    those current now, or those true and known at `as_of`. Each cites its evidence record
    ids; `/v1/expand` with its `memory:<id>` handle returns those records. Page with `cursor`
    (at most 10000 deep)."""
    offset = _offset(cursor, MAX_MEMORIES - 1)
    found, more = await lore.memories(
        kinds=kind or (), namespace=namespace, as_of=as_of,
        include_superseded=include_superseded, offset=offset, limit=limit,
    )
    return MemoryPage(
        memories=[MemoryOut.of(m) for m in found],
        next_cursor=str(offset + len(found)) if more else None,
    )


@router.get(
    "/memories/{memory_id}", response_model=MemoryOut, summary="Get a memory", responses=NO_MEMORY
)
async def get_memory(memory_id: str, lore: Scoped) -> MemoryOut:
    """One memory by id or `memory:<id>` handle, current or superseded, with the ids of its
    evidence records (read scope); 404 when it does not exist or is outside the key's
    namespace."""
    return MemoryOut.of(await lore.memory(memory_id))
