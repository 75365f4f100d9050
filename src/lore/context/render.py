"""Context packs as compact, cited markdown for a prompt, or as JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..types import Citation, ContextPack, Fragment

SEPARATOR = " · "


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _source_name(uri: str) -> str:
    """The last path segment of a source: enough to recognise it, cheap in tokens."""
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


def citation_line(number: int, fragment: Fragment) -> str:
    """`[1] 2026-03-02 10:04 · #payments · alice · chat.jsonl · record:ID`, empty parts left out."""
    cite = fragment.citation
    parts = [
        _when(cite.occurred_at),
        f"#{cite.session_id}" if cite.session_id else "",
        cite.actor or "",
        _source_name(cite.source) if cite.source else "",
        fragment.id,
    ]
    return f"[{number}] " + SEPARATOR.join(p for p in parts if p)


def render_fragment(number: int, fragment: Fragment) -> str:
    """One fragment as it appears in the markdown: its citation line, then its text."""
    return f"{citation_line(number, fragment)}\n{fragment.text}"


def render_fragments(fragments: Sequence[Fragment]) -> str:
    """Fragments numbered in order and separated by blank lines; empty for no fragments."""
    return "\n\n".join(render_fragment(i, f) for i, f in enumerate(fragments, start=1))


def render_markdown(pack: ContextPack) -> str:
    """The pack as an agent reads it; `pack.tokens` is this text's exact token count."""
    return render_fragments(pack.fragments)


def render_json(pack: ContextPack, *, indent: int | None = 2) -> str:
    """The pack as JSON (`pack_from_json` reads it back)."""
    return json.dumps(pack.to_dict(), ensure_ascii=False, indent=indent)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def fragment_from_dict(data: dict[str, Any]) -> Fragment:
    cite = data["citation"]
    return Fragment(
        id=data["id"],
        kind=data["kind"],
        text=data["text"],
        citation=Citation(
            source=cite["source"],
            session_id=cite["session_id"],
            actor=cite["actor"],
            occurred_at=_time(cite["occurred_at"]),
            record_ids=tuple(cite["record_ids"]),
        ),
        score=float(data["score"]),
        tokens=int(data["tokens"]),
        why=tuple(data["why"]),
    )


def pack_from_dict(data: dict[str, Any]) -> ContextPack:
    """The inverse of `ContextPack.to_dict`."""
    return ContextPack(
        query=data["query"],
        budget_tokens=int(data["budget_tokens"]),
        tokens=int(data["tokens"]),
        encoding=data["encoding"],
        fragments=tuple(fragment_from_dict(f) for f in data["fragments"]),
    )


def pack_from_json(text: str) -> ContextPack:
    """The inverse of `render_json`."""
    return pack_from_dict(json.loads(text))
