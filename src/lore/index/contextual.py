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
    if neighbours <= 0:
        return [draft.actor or "" for draft in drafts]
    # Each session's clipped turns so far (stored ones first), and where its drafts are here.
    before = {key: [_clip(t) for t in texts] for key, texts in (previous or {}).items()}
    keys = [session_key(draft) for draft in drafts]
    clipped = [_clip(draft.text) for draft in drafts]
    places: dict[SessionKey, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            places.setdefault(key, []).append(i)
    passed: dict[SessionKey, int] = {}  # how many of a session's drafts come before this one
    out: list[str] = []
    for i, draft in enumerate(drafts):
        key = keys[i]
        if key is None:
            out.append(draft.actor or "")
            continue
        rank = passed[key] = passed.get(key, -1) + 1
        if draft.kind not in CONVERSATIONAL_KINDS:
            out.append(draft.actor or "")
            continue
        earlier = before.setdefault(key, [])
        parts = [draft.actor or "", *earlier[-neighbours:]]
        for j in places[key][rank + 1 : rank + 1 + neighbours]:
            if j >= i + LOOKAHEAD:
                break
            parts.append(clipped[j])
        earlier.append(clipped[i])
        del earlier[:-neighbours]
        out.append("\n".join([part for part in parts if part]))
    return out


def embedding_text(draft: Draft) -> str:
    """The text a record's vector is made from: the turn, prefixed by who said it."""
    return f"{draft.actor}: {draft.text}" if draft.actor else draft.text
