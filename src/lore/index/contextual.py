"""What each record is indexed with besides its own text: speaker, date and neighbouring turns.

A conversational turn is often unintelligible alone ("Yes, last Friday!"); indexing it with its
neighbours lets a question about the topic find it (measured in docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..types import Draft

CONVERSATIONAL_KINDS = frozenset({"message", "utterance", "tool_call", "tool_result"})
NEIGHBOUR_CHARS = 400


def _clip(text: str) -> str:
    return text if len(text) <= NEIGHBOUR_CHARS else text[:NEIGHBOUR_CHARS]


def index_contexts(drafts: Sequence[Draft], previous: dict[str, str] | None = None) -> list[str]:
    """The `context` column for each draft: its actor and the turns just before and after it.

    `previous` maps a session id to the text of its last stored turn, so a batch that continues
    a session still sees the turn before its first draft.
    """
    last_text = dict(previous or {})
    out: list[str] = []
    for i, draft in enumerate(drafts):
        parts = [draft.actor or ""]
        if draft.kind in CONVERSATIONAL_KINDS and draft.session_id is not None:
            before = last_text.get(draft.session_id)
            if before:
                parts.append(_clip(before))
            after = next(
                (d.text for d in drafts[i + 1 : i + 8] if d.session_id == draft.session_id), None
            )
            if after:
                parts.append(_clip(after))
            last_text[draft.session_id] = draft.text
        out.append("\n".join(p for p in parts if p))
    return out


def embedding_text(draft: Draft) -> str:
    """The text a record's vector is made from: the turn, prefixed by who said it."""
    return f"{draft.actor}: {draft.text}" if draft.actor else draft.text
