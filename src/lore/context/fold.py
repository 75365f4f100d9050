"""Fold a long conversation: closed blocks become extractive mementos with `fold:` handles."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import NotFound, QueryError
from ..ingest.base import parse_time
from ..ingest.writer import check_namespace
from ..tokens import DEFAULT_ENCODING, count_tokens
from ..types import Draft, Expansion, Record
from .blocks import message_time, segment, topic_depth, turns_of
from .chat import REPLY, content_text, conversation_tokens, message_tokens, validate_messages

if TYPE_CHECKING:
    from ..engine import Lore

MEMENTO_COST = 70  # rough tokens of one memento, to size blocks so their mementos fit
RAW_SHARES = (0.5, 0.3, 0.15, 0.0)  # share of the budget tried for the most recent turns, raw
BLOCK_SCALES = (1, 2, 4)  # block sizes tried, as multiples of the estimate from MEMENTO_COST
GROW_LIMIT = 200  # recent turns kept raw, at most, when filling a budget's leftover
FOLD_ID_CHARS = 16  # base32 characters of a fold id (80 bits)
LEVELS = (3, 2, 1, 0, -1)  # central sentences per memento; -1: the handle and a count only
MAX_SENTENCE = 60  # tokens kept of one quoted sentence
CONNECTOR, ACTOR, ROLE = "fold", "lore", "fold"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True)
class Memento:
    """A folded block: its handle, the memento text and which input messages it replaces."""

    handle: str
    text: str
    first: int
    last: int
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"handle": self.handle, "text": self.text, "first": self.first,
                "last": self.last, "tokens": self.tokens}


@dataclass(frozen=True, slots=True)
class FoldResult:
    """A folded conversation: messages that fit the budget, and what folding did."""

    messages: tuple[dict[str, Any], ...]
    mementos: tuple[Memento, ...]
    budget_tokens: int
    tokens_before: int
    tokens_after: int
    encoding: str
    namespace: str
    session: str
    blocks: int
    raw_turns: int  # most recent turns kept verbatim
    sentences: int  # central sentences quoted per memento (fewer when shortened)
    shortened: bool  # mementos were cut below the default level to fit
    dropped: int  # oldest mementos left out because even bare ones did not fit
    stored: int  # records added (0 when the same conversation was folded before)
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": list(self.messages), "mementos": [m.to_dict() for m in self.mementos],
            "budget_tokens": self.budget_tokens, "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after, "encoding": self.encoding,
            "namespace": self.namespace, "session": self.session, "blocks": self.blocks,
            "raw_turns": self.raw_turns, "sentences": self.sentences,
            "shortened": self.shortened, "dropped": self.dropped, "stored": self.stored,
            "notes": list(self.notes),
        }


# -- mementos -------------------------------------------------------------------
@dataclass
class _Block:
    indices: list[int]
    raw_cost: int
    handle: str
    header: str
    sentences: list[tuple[int, str, str]]  # (message index, speaker, sentence), central first
    costs: dict[int, int] = field(default_factory=dict)  # tokens of its memento, per level


def _speaker(m: dict[str, Any]) -> str:
    return str(m.get("name") or m["role"])


def _header(messages: list[dict[str, Any]], indices: list[int]) -> str:
    """`12 messages · 2026-03-02 09:00-09:21 · dana, assistant · tools: lookup×2`."""
    block = [messages[i] for i in indices]
    spoke = [_speaker(m) for m in block if m["role"] not in ("tool", "function")]
    tools: dict[str, int] = {}
    for m in block:
        for call in m.get("tool_calls") or []:
            tools[call["function"]["name"]] = tools.get(call["function"]["name"], 0) + 1
    times = [t for m in block if (t := message_time(m)) is not None]
    parts = [f"{len(block)} messages"]
    if times:
        lo, hi = (datetime.fromtimestamp(t, tz=UTC) for t in (min(times), max(times)))
        span = lo.strftime("%Y-%m-%d %H:%M")
        if hi != lo:
            same_day = hi.date() == lo.date()
            span += "-" + hi.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")
        parts.append(span)
    if spoke:
        parts.append(", ".join(dict.fromkeys(spoke)))
    if tools:
        parts.append("tools: " + ", ".join(f"{k}×{v}" if v > 1 else k for k, v in tools.items()))
    return " · ".join(parts)


class _Sentences:
    """Every quotable sentence of the messages, embedded once, ranked per block by centrality
    (cosine to the block's mean sentence vector)."""

    def __init__(self, lore: Lore, messages: list[dict[str, Any]], start: int, encoding: str):
        self.found: list[tuple[int, str, str]] = []
        for i in range(start, len(messages)):
            seen: set[str] = set()
            for s in _SENTENCE.split(content_text(messages[i].get("content"))):
                s = s.strip()
                if len(s) > 2 and s not in seen and count_tokens(s, encoding) <= MAX_SENTENCE:
                    seen.add(s)
                    self.found.append((i, _speaker(messages[i]), s))
        texts = [s for _, _, s in self.found]
        self.vectors = np.asarray(lore.embedder.embed(texts), dtype=np.float32) if texts else None
        self.rows = np.asarray([i for i, _, _ in self.found], dtype=np.int64)

    def mean(self, indices: list[int]) -> np.ndarray:
        """The mean sentence vector of messages `indices[0]` to `indices[-1]` (a turn's)."""
        dim = self.vectors.shape[1] if self.vectors is not None else 1
        picks = np.flatnonzero((self.rows >= indices[0]) & (self.rows <= indices[-1]))
        if self.vectors is None or not len(picks):
            return np.zeros(dim, dtype=np.float32)
        return np.asarray(self.vectors[picks].mean(axis=0), dtype=np.float32)

    def central(self, indices: list[int]) -> list[tuple[int, str, str]]:
        picks = np.flatnonzero((self.rows >= indices[0]) & (self.rows <= indices[-1]))
        if self.vectors is None or not len(picks):
            return []
        vectors = self.vectors[picks]
        centroid = vectors.mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(centroid) or 1.0) + 1e-9
        order = np.argsort(-(vectors @ centroid) / norms, kind="stable")
        ranked: list[tuple[int, str, str]] = []
        seen: set[str] = set()
        for k in order:
            item = self.found[int(picks[k])]
            if item[2].casefold() not in seen:  # a repeated sentence is quoted once
                seen.add(item[2].casefold())
                ranked.append(item)
        return ranked


def memento_text(block: _Block, sentences: int) -> str:
    """`[fold:ID] header` and the `sentences` most central sentences, quoted in order; with
    `sentences` below 0, only the handle and a count."""
    if sentences < 0:
        return f"[{block.handle}] {len(block.indices)} messages folded"
    chosen = sorted(block.sentences[:sentences], key=lambda s: s[0])
    return "\n".join([f"[{block.handle}] {block.header}", *(f'{w}: "{s}"' for _, w, s in chosen)])


def _memento_message(block: _Block, sentences: int) -> dict[str, Any]:
    return {"role": "user", "content": memento_text(block, sentences)}


# -- storage --------------------------------------------------------------------
def _digest(value: Any) -> str:
    raw = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _fold_id(namespace: str, session: str, source_ids: list[str]) -> str:
    """A block's id, fixed by what it holds: the same block folded again gets the same id."""
    raw = hashlib.sha256(json.dumps([namespace, session, source_ids]).encode()).digest()
    return base64.b32encode(raw).decode()[:FOLD_ID_CHARS].lower()


def _draft(m: dict[str, Any], seq: int, session: str) -> Draft:
    text = content_text(m.get("content")).strip()
    calls = [f"call {c['function']['name']}({c['function'].get('arguments', '')})"
             for c in m.get("tool_calls") or []]
    if m["role"] in ("tool", "function"):
        kind = "tool_result"
    else:
        kind = "tool_call" if calls and not text else "message"
    moment = m.get("timestamp")
    return Draft(text="\n".join([text, *calls]).strip() or "(no content)", kind=kind,
                 session_id=session, seq=seq, actor=_speaker(m), role=m["role"],
                 occurred_at=parse_time(moment) if moment is not None else None,
                 metadata={"message": m}, source_id=f"{seq}:{_digest(m)[:16]}")


def _ids(lore: Lore, namespace: str, uri: str, source_ids: list[str]) -> dict[str, str]:
    """Record ids of the stored messages by source id (new, or stored by an earlier fold)."""
    found: dict[str, str] = {}
    for start in range(0, len(source_ids), 500):
        part = source_ids[start : start + 500]
        rows = lore.store.db.execute(
            "SELECT source_id, id FROM records WHERE namespace = ? AND connector = ? AND uri = ?"
            f" AND source_id IN ({','.join('?' * len(part))}) ORDER BY rowid",
            (namespace, CONNECTOR, uri, *part),
        )
        found.update((sid, rid) for sid, rid in rows)
    return found


def _store(lore: Lore, drafts: list[Draft], blocks: list[_Block], namespace: str,
           session: str) -> int:
    """Store every message, then one memento record per folded block (its session is the
    fold id, which is how `expand` finds it); returns the records added."""
    uri = f"fold:{session}"
    added = lore.writer.write(drafts, namespace=namespace, connector=CONNECTOR, uri=uri).added
    ids = _ids(lore, namespace, uri, [d.source_id or "" for d in drafts])
    notes = []
    for block in blocks:
        records = [ids[sid] for i in block.indices if (sid := drafts[i].source_id or "") in ids]
        notes.append(Draft(
            text=memento_text(block, LEVELS[0]), kind="event", session_id=block.handle, seq=0,
            actor=ACTOR, role=ROLE, source_id=block.handle,
            metadata={"fold": {"session": session, "records": records,
                               "first": block.indices[0], "last": block.indices[-1]}},
        ))
    return added + lore.writer.write(notes, namespace=namespace, connector=CONNECTOR, uri=uri).added


def expand_fold(lore: Lore, fold_id: str) -> Expansion:
    """The records a `fold:` handle names: the block's original messages, in order."""
    handle = f"fold:{fold_id}"
    rows = lore.store.db.execute(  # the records_session index: (session_id, seq)
        "SELECT rowid FROM records WHERE session_id = ? AND connector = ? AND role = ?",
        (handle, CONNECTOR, ROLE),
    ).fetchall()
    notes = list(lore.store.records_by_rowid([r[0] for r in rows]).values())
    info = notes[0].metadata.get("fold") if notes else None
    if not isinstance(info, dict):
        raise NotFound(f"no fold {fold_id!r}", hint="fold handles come from `lore fold`")
    records: list[Record] = []
    for rid in info.get("records", []):
        try:
            records.append(lore.get(rid))
        except NotFound:
            continue  # forgotten since: the rest still expands
    return Expansion(handle, tuple(records), tuple(r.id for r in records))


def original_messages(expansion: Expansion) -> list[dict[str, Any]]:
    """The chat messages behind an expanded `fold:` handle, as they were folded."""
    return [r.metadata["message"] for r in expansion.records if "message" in r.metadata]


# -- folding --------------------------------------------------------------------
def fold(
    lore: Lore,
    messages: Any,
    budget_tokens: int,
    *,
    namespace: str = "default",
    session: str | None = None,
    encoding: str | None = None,
) -> FoldResult:
    """`messages` folded to at most `budget_tokens`: leading system messages and the most
    recent turns raw, older closed blocks as mementos whose `fold:` handles expand to them."""
    from .pack import MAX_BUDGET

    encoding = encoding or DEFAULT_ENCODING
    if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
        raise QueryError(f"budget must be a whole number of tokens, got {budget_tokens!r}")
    if not 1 <= budget_tokens <= MAX_BUDGET:
        raise QueryError(f"budget must be between 1 and {MAX_BUDGET} tokens, got {budget_tokens}")
    check_namespace(namespace)
    if session is not None and (not isinstance(session, str) or not session.strip()):
        raise QueryError(f"session must be a non-empty string, got {session!r}")
    messages = validate_messages(messages)
    costs = [message_tokens(m, encoding) for m in messages]
    before = conversation_tokens(messages, encoding)
    session = session or "fold-" + _digest(messages)[:16]
    if before <= budget_tokens:
        return FoldResult(tuple(messages), (), budget_tokens, before, before, encoding,
                          namespace, session, 0, 0, LEVELS[0], False, 0, 0,
                          ("the conversation already fits; nothing folded",))
    pinned = 0
    while pinned < len(messages) and messages[pinned]["role"] in ("system", "developer"):
        pinned += 1
    if sum(costs[:pinned]) > budget_tokens // 2:
        pinned = 0
    room = budget_tokens - sum(costs[:pinned]) - REPLY
    drafts = [_draft(m, i, session) for i, m in enumerate(messages)]
    turns = turns_of(messages, pinned)
    sentences = _Sentences(lore, messages, pinned, encoding)
    depth = topic_depth(np.stack([sentences.mean(t) for t in turns]))

    def blocks_for(raw_turns: int, scale: int) -> tuple[list[_Block], int]:
        head = turns[: len(turns) - raw_turns]
        raw = sum(costs[i] for t in turns[len(head) :] for i in t)
        folded = sum(costs[i] for t in head for i in t)
        target = max(60, min(8000, scale * MEMENTO_COST * folded // max(room - raw, 1)))
        blocks = []
        for span in segment(messages, head, costs, depth, target):
            ids = [drafts[i].source_id or "" for i in span]
            handle = "fold:" + _fold_id(namespace, session, ids)
            block = _Block(span, sum(costs[i] for i in span), handle, _header(messages, span),
                           sentences.central(span))
            block.costs = {k: message_tokens(_memento_message(block, k), encoding) for k in LEVELS}
            blocks.append(block)
        return blocks, raw

    plan = _plan(turns, costs, room, blocks_for)
    level, raw_turns, dropped, blocks = plan
    folded = [b for b in blocks if b.raw_cost > b.costs[level]]
    stored = _store(lore, drafts, folded, namespace, session)
    out = list(messages[:pinned])
    mementos: list[Memento] = []
    for n, block in enumerate(blocks):
        if n < dropped:
            continue
        if block.raw_cost <= block.costs[level]:
            out.extend(messages[i] for i in block.indices)
            continue
        message = _memento_message(block, level)
        mementos.append(Memento(block.handle, message["content"], block.indices[0],
                                block.indices[-1], block.costs[level]))
        out.append(message)
    out.extend(messages[i] for t in turns[len(turns) - raw_turns :] for i in t)
    after = conversation_tokens(out, encoding)
    if after > budget_tokens:  # unreachable: every plan was costed exactly
        raise AssertionError(f"fold over budget: {after} > {budget_tokens}")
    notes = []
    if level != LEVELS[0]:
        shape = f"{level} quoted sentences" if level >= 0 else "a handle and a count"
        notes.append(f"mementos shortened to {shape} each to fit the budget")
    if dropped:
        gone = ", ".join(b.handle for b in blocks[:dropped])
        notes.append(f"{dropped} oldest mementos left out (even bare ones did not fit): {gone}")
    return FoldResult(tuple(out), tuple(mementos), budget_tokens, before, after, encoding,
                      namespace, session, len(blocks), raw_turns, level, level != LEVELS[0],
                      dropped, stored, tuple(notes))


def _cost(blocks: list[_Block], raw: int, level: int) -> int:
    return sum(min(b.raw_cost, b.costs[level]) for b in blocks) + raw


def _plan(
    turns: list[list[int]], costs: list[int], room: int,
    blocks_for: Callable[[int, int], tuple[list[_Block], int]],
) -> tuple[int, int, int, list[_Block]]:
    """(sentences per memento, recent turns kept raw, oldest blocks dropped, blocks) that fit
    `room`. Preferred: mementos quoting 2-3 sentences beside the most recent turns raw in up
    to half the room (else less), blocks as small as that allows; then 1 sentence; then bare
    mementos; last, bare mementos dropped oldest first."""
    tails: list[int] = []
    for share in RAW_SHARES:
        count, used = 0, 0
        while count < len(turns):
            cost = sum(costs[i] for i in turns[-count - 1])
            if used + cost > share * room:
                break
            count, used = count + 1, used + cost
        if count not in tails and count < len(turns):
            tails.append(count)
    cache: dict[tuple[int, int], tuple[list[_Block], int]] = {}
    for group in ((3, 2), (1,), (0, -1)):
        for tail in tails:
            for level in group:
                for scale in BLOCK_SCALES:
                    if (tail, scale) not in cache:
                        cache[tail, scale] = blocks_for(tail, scale)
                    blocks, raw = cache[tail, scale]
                    if _cost(blocks, raw, level) <= room:
                        while tail + 1 < len(turns) and tail < GROW_LIMIT:  # fill what is left
                            more, more_raw = blocks_for(tail + 1, scale)
                            if _cost(more, more_raw, level) > room:
                                break
                            tail, blocks = tail + 1, more
                        return level, tail, 0, blocks
    blocks, _ = cache[0, BLOCK_SCALES[-1]]
    bare = [min(b.raw_cost, b.costs[LEVELS[-1]]) for b in blocks]
    dropped = 0
    while dropped < len(blocks) and sum(bare[dropped:]) > room:
        dropped += 1
    return LEVELS[-1], 0, dropped, blocks
