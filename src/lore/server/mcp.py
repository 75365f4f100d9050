"""The MCP server: the few tools an agent needs from a memory, over stdio or streamable HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import __version__
from ..errors import LoreError
from ..requests import make_query
from ..types import Draft, Filters
from .auth import AccessKey
from .errors import tool_message
from .runtime import Runtime
from .scope import ScopedLore
from .text import (
    distilled_text,
    expansion_text,
    hits_text,
    memories_text,
    pack_text,
    parse_when,
    remembered_text,
)

log = logging.getLogger("lore.server")
KeySource = Callable[[Context], Awaitable[AccessKey]]
Kind = Literal["message", "tool_call", "tool_result", "utterance", "document_chunk", "event"]
MemoryKind = Literal["fact", "procedure", "decision", "episode"]

INSTRUCTIONS = """\
Lore is a shared, cited memory of what people and agents did and said: chat, meetings,
documents, agent runs and notes. Use `context` first to get what is known about a question
within a token budget; `search` to find specific records; `expand` to read the evidence
behind a handle such as record:01J...; `remember` to keep a decision, fact or outcome for
later; `forget` to delete a wrong or sensitive record; `fold` to shrink a long conversation
into mementos whose fold: handles `expand` restores; `memories` to list the facts, decisions,
procedures and episodes distilled from the records (current, or as of a date), and `distill`
to bring them up to date. Cite handles when you rely on them."""

Namespace = Annotated[
    str | None,
    Field(description="Namespace path such as acme/eng; default: everything your key sees."),
]
Since = Annotated[
    str | None, Field(description="Only records at or after: 2026-03-02, 2026-03-02T10:00, 7d.")
]
Until = Annotated[str | None, Field(description="Only records before this date or span ago.")]
Actor = Annotated[str | None, Field(description="Only records by this person or agent.")]
Session = Annotated[str | None, Field(description="Only this session, thread or channel.")]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
# Adds without deleting; the same call twice adds nothing more (remember, fold, distill).
WRITE_IDEMPOTENT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def _filters(
    namespace: str | None, actor: str | None, session: str | None, since: str | None,
    until: str | None,
) -> Filters:
    return Filters(
        namespace,
        (actor,) if actor else (),
        (session,) if session else (),
        (),
        parse_when(since, "since"),
        parse_when(until, "until"),
    )


async def _guarded(name: str, work: Awaitable[str]) -> str:
    """Lore errors become a message the agent can act on; anything else, a short apology."""
    try:
        return await work
    except LoreError as exc:
        raise ToolError(tool_message(exc)) from None
    except Exception:
        log.exception("MCP tool %s failed", name)
        raise ToolError("internal error in Lore; the server log has the details") from None


def build_mcp(runtime: Runtime, key_source: KeySource) -> MCPServer:
    """An MCP server whose tools confine every call to the key `key_source` finds."""
    server: MCPServer = MCPServer(
        "lore", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    async def scoped(ctx: Context) -> ScopedLore:
        return ScopedLore(runtime, await key_source(ctx))

    @server.tool(
        description=(
            "Find the records (messages, meeting turns, document chunks, tool results, notes) "
            "that best match a query, with hybrid full-text + semantic search. Returns one line "
            "per hit: a record: handle, time, session, actor and namespace, then the text. Use "
            "filters to narrow by person, session or time (applied before ranking). Prefer "
            "`context` when you need an answer's background under a token budget."
        ),
        annotations=READ_ONLY,
        structured_output=False,
    )
    async def search(
        query: Annotated[str, Field(description="What to look for, in plain words.")],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=50, description="How many hits, 1-50.")] = 8,
        namespace: Namespace = None,
        actor: Actor = None,
        session: Session = None,
        since: Since = None,
        until: Until = None,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            f = _filters(namespace, actor, session, since, until)
            q = make_query(
                query, k, "hybrid", f.namespace, f.actors, f.sessions, (), f.since, f.until
            )
            hits = await lore.search(q)
            return hits_text(query, hits, lore.read_namespace(namespace))

        return await _guarded("search", work())

    @server.tool(
        description=(
            "Get what Lore knows about a question as cited markdown that fits `budget_tokens` "
            "exactly: the most relevant records, near-duplicates dropped, adjacent turns of a "
            "conversation merged, most relevant first. Each fragment starts with a citation "
            "line ending in a handle (record:ID or record:FIRST..LAST) to cite or `expand`. "
            "Use this first when you need background before acting or answering."
        ),
        annotations=READ_ONLY,
        structured_output=False,
    )
    async def context(
        query: Annotated[str, Field(description="The question or task you need context for.")],
        ctx: Context,
        budget_tokens: Annotated[
            int, Field(ge=50, le=20000, description="Token budget for the whole answer.")
        ] = 1500,
        namespace: Namespace = None,
        actor: Actor = None,
        session: Session = None,
        since: Since = None,
        until: Until = None,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            filters = _filters(namespace, actor, session, since, until)
            pack = await lore.context(query, budget_tokens, filters)
            return pack_text(pack, lore.read_namespace(namespace))

        return await _guarded("context", work())

    @server.tool(
        description=(
            "Read the original evidence behind a handle from `search` or `context` "
            "(record:ID or record:FIRST..LAST): the full text of those records plus up to "
            "`window` neighbouring records of the same conversation on each side, in order."
        ),
        annotations=READ_ONLY,
        structured_output=False,
    )
    async def expand(
        handle: Annotated[str, Field(description="A handle such as record:01J... .")],
        ctx: Context,
        window: Annotated[
            int, Field(ge=0, le=20, description="Neighbouring records on each side, 0-20.")
        ] = 3,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            return expansion_text(await lore.expand(handle, window))

        return await _guarded("expand", work())

    @server.tool(
        description=(
            "Keep something for later, for you and other agents: a decision and its reason, "
            "a fact learned, an outcome, a user preference. Write one self-contained statement "
            "that will make sense without this conversation (who, what, why). It is stored "
            "as immutable, searchable evidence; the same text twice is stored once. Needs a "
            "write key."
        ),
        annotations=WRITE_IDEMPOTENT,
        structured_output=False,
    )
    async def remember(
        text: Annotated[
            str, Field(min_length=1, max_length=20000, description="What to remember.")
        ],
        ctx: Context,
        actor: Annotated[
            str | None, Field(description="Who it is from or about; default: unnamed.")
        ] = None,
        session: Annotated[
            str | None, Field(description="Session or thread it belongs to, if any.")
        ] = None,
        kind: Annotated[Kind, Field(description="Record kind; notes are messages.")] = "message",
        namespace: Annotated[
            str | None, Field(description="Where to keep it; default: your key's namespace.")
        ] = None,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            target = lore.write_namespace(namespace)
            draft = Draft(text=text, kind=kind, session_id=session, actor=actor, role="note")
            report = await lore.add([draft], target, source="mcp")
            return remembered_text(report, target)

        return await _guarded("remember", work())

    @server.tool(
        description=(
            "Delete records for good, by id or record:ID handle, when they are wrong, "
            "duplicated or sensitive. All or nothing: if any id is unknown, nothing is "
            "deleted. The deletion is audited with your reason. Needs an admin key."
        ),
        annotations=ToolAnnotations(
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=False,
        ),
        structured_output=False,
    )
    async def forget(
        ids: Annotated[
            list[str],
            Field(min_length=1, max_length=100, description="Record ids or record:ID handles."),
        ],
        reason: Annotated[str, Field(min_length=1, max_length=500, description="Why.")],
        ctx: Context,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            gone = await lore.forget(ids, reason)
            handles = ", ".join(f"record:{i}" for i in gone)
            return f"Forgot {len(gone)} record{'s' if len(gone) != 1 else ''}: {handles}."

        return await _guarded("forget", work())

    @server.tool(
        description=(
            "Fold a long conversation (OpenAI chat messages, tool calls and results included) "
            "so it fits `budget_tokens`: the most recent blocks stay verbatim, older closed "
            "blocks become short mementos (central sentences, participants, tools, time span) "
            "each starting with a fold:ID handle; `expand` on it returns that block's original "
            "messages in order. Returns the folded messages as JSON after a summary line. The "
            "originals are stored as evidence (folding again adds nothing). Needs a write key."
        ),
        annotations=WRITE_IDEMPOTENT,
        structured_output=False,
    )
    async def fold(
        messages: Annotated[
            list[dict[str, Any]],
            Field(min_length=1, max_length=20000, description="The chat messages to fold."),
        ],
        budget_tokens: Annotated[
            int, Field(ge=1, le=200000, description="Token budget for the folded messages.")
        ],
        ctx: Context,
        namespace: Annotated[
            str | None, Field(description="Where to store the originals; default: your key's.")
        ] = None,
        session: Annotated[
            str | None, Field(description="Session id for the originals; default: derived.")
        ] = None,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            result = await lore.fold(messages, budget_tokens, namespace, session)
            summary = (
                f"Folded {result.tokens_before} to {result.tokens_after}/{budget_tokens} tokens:"
                f" {len(result.mementos)} mementos, {result.raw_turns} recent turns raw."
                + "".join(f" {note}." for note in result.notes)
            )
            return summary + "\n" + json.dumps(list(result.messages), ensure_ascii=False)

        return await _guarded("fold", work())

    @server.tool(
        description=(
            "List the memories distilled from the records: facts (who lives, works, owns or "
            "uses what), decisions, procedures (tool sequences that worked) and episodes "
            "(what a session was about). Each line gives a memory: handle, kind, when it was "
            "true (from → to), namespace and how many records it cites, then its text. Current "
            "memories by default; `as_of` gives what was true and known then. `expand` on a "
            "memory: handle shows its evidence. Run `distill` first if there are none."
        ),
        annotations=READ_ONLY,
        structured_output=False,
    )
    async def memories(
        ctx: Context,
        kind: Annotated[
            MemoryKind | None,
            Field(description="Only this kind: fact, procedure, decision or episode."),
        ] = None,
        as_of: Annotated[
            str | None,
            Field(description="What was true and known at: 2026-03-02, 2026-03-02T10:00, 30d."),
        ] = None,
        namespace: Namespace = None,
        limit: Annotated[int, Field(ge=1, le=200, description="How many memories, 1-200.")] = 30,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            moment = parse_when(as_of, "as_of")
            found, _ = await lore.memories(
                kinds=(kind,) if kind else (), namespace=namespace, as_of=moment, limit=limit
            )
            return memories_text(found, lore.read_namespace(namespace), moment)

        return await _guarded("memories", work())

    @server.tool(
        description=(
            "Distil the records not yet distilled into memories: episodes, facts, decisions "
            "and procedures, each citing its evidence. Incremental and idempotent (running it "
            "again adds nothing); a newer incompatible fact supersedes the older one, which is "
            "kept as history. Returns what was made and what it cost (LLM calls, tokens, "
            "seconds). Needs a write key."
        ),
        annotations=WRITE_IDEMPOTENT,
        structured_output=False,
    )
    async def distill(
        ctx: Context,
        namespace: Annotated[
            str | None,
            Field(description="Only this namespace and below; default: all your key's."),
        ] = None,
        retry_failed: Annotated[
            bool, Field(description="Ask the LLM again for batches that never validated.")
        ] = False,
    ) -> str:
        async def work() -> str:
            lore = await scoped(ctx)
            report, scope = await lore.distill(namespace, retry_failed)
            return distilled_text(report, scope)

        return await _guarded("distill", work())

    return server


async def http_key_source(ctx: Context) -> AccessKey:
    """The key the HTTP gate verified for this request (see http.McpGate)."""
    request: Any = ctx.request_context.request
    key = request.scope.get("lore.key") if request is not None else None
    if not isinstance(key, AccessKey):
        raise ToolError("no access key on this request")
    return key


def transport_security(host: str) -> TransportSecuritySettings | None:
    """DNS-rebinding protection on loopback (the SDK's default); keys guard other binds."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return None
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)
