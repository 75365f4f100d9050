"""What each record is indexed with besides its own text: speaker, date and neighbouring turns.

A conversational turn is often unintelligible alone ("Yes, last Friday!"); indexing it with its
neighbours lets a question about the topic find it (measured in docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..types import Draft

CONVERSATIONAL_KINDS = frozenset({"message", "utterance", "tool_call", "tool_result"})
NEIGHBOURS = 2  # turns each side; 2 beat 1, 3 and 4 on LoCoMo dev (docs/benchmarks.md)
NEIGHBOUR_CHARS = 400
LOOKAHEAD = 16  # how far ahead in a batch to look for the same session's next turns

SessionKey = tuple[str | None, str]


def _clip(text: str) -> str:
    return text if len(text) <= NEIGHBOUR_CHARS else text[:NEIGHBOUR_CHARS]


def session_key(draft: Draft) -> SessionKey | None:
    """Which conversation a draft continues: its (relative) namespace and session id."""
    return None if draft.session_id is None else (draft.namespace, draft.session_id)


def index_contexts(
    drafts: Sequence[Draft],
    previous: dict[SessionKey, list[str]] | None = None,
    neighbours: int = NEIGHBOURS,
) -> list[str]:
    """The `context` column for each draft: its actor and the turns just before and after it.

    `previous` maps a session key to the texts of its last stored turns (oldest first), so a
    batch that continues a session still sees the turns before its first draft.
    """
    before: dict[SessionKey, list[str]] = {k: list(v) for k, v in (previous or {}).items()}
    out: list[str] = []
    for i, draft in enumerate(drafts):
        parts = [draft.actor or ""]
        key = session_key(draft)
        if draft.kind in CONVERSATIONAL_KINDS and key is not None and neighbours > 0:
            earlier = before.setdefault(key, [])
            parts += [_clip(t) for t in earlier[-neighbours:]]
            later = [d.text for d in drafts[i + 1 : i + LOOKAHEAD] if session_key(d) == key]
            parts += [_clip(t) for t in later[:neighbours]]
            earlier.append(draft.text)
            del earlier[:-neighbours]
        out.append("\n".join(p for p in parts if p))
    return out


def embedding_text(draft: Draft) -> str:
    """The text a record's vector is made from: the turn, prefixed by who said it."""
    return f"{draft.actor}: {draft.text}" if draft.actor else draft.text
