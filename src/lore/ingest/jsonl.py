"""Chat messages as JSON Lines: one message per line (session, actor, role, text, timestamp)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..types import Draft, IngestProblem
from .base import Parsed, parse_time
from .lines import LineConnector, next_seq

TEXT_KEYS = ("text", "content", "message", "body")
ACTOR_KEYS = ("actor", "user", "speaker", "author", "name", "from")
TIME_KEYS = ("timestamp", "ts", "time", "occurred_at", "created_at", "date")
SESSION_KEYS = ("session", "session_id", "channel", "thread", "conversation")


def _first(item: dict, keys: tuple[str, ...]) -> object:
    for key in keys:
        if item.get(key) not in (None, ""):
            return item[key]
    return None


class JsonlConnector(LineConnector):
    """`{"session", "actor", "role", "text", "timestamp", "metadata"?, "id"?}` per line."""

    name = "jsonl"
    suffixes = (".jsonl", ".ndjson")

    def parse_line(
        self, where: str, number: int, line: str, state: dict[str, Any]
    ) -> Iterator[Parsed]:
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield IngestProblem(where, number, f"invalid JSON: {exc.msg} at column {exc.colno}")
            return
        if not isinstance(item, dict):
            yield IngestProblem(where, number, f"expected an object, got {type(item).__name__}")
            return
        text = _first(item, TEXT_KEYS)
        if not isinstance(text, str) or not text.strip():
            yield IngestProblem(where, number, "no text: expected a non-empty 'text' string")
            return
        occurred = _first(item, TIME_KEYS)
        try:
            moment = parse_time(occurred) if occurred is not None else None
        except (ValueError, OverflowError, OSError) as exc:
            yield IngestProblem(where, number, f"bad timestamp {occurred!r}: {exc}")
            return
        metadata = item.get("metadata", {})
        if not isinstance(metadata, dict):
            yield IngestProblem(where, number, "'metadata' must be an object")
            return
        session = _first(item, SESSION_KEYS)
        session_id = str(session) if session is not None else Path(where).stem
        actor = _first(item, ACTOR_KEYS)
        yield Draft(
            text=text,
            kind=str(item.get("kind") or "message"),
            session_id=session_id,
            seq=next_seq(state, session_id),
            actor=str(actor) if actor is not None else None,
            role=str(item["role"]) if item.get("role") else None,
            occurred_at=moment,
            metadata={**metadata, "line": number},
            source_id=str(item["id"]) if item.get("id") is not None else f"line:{number}",
        )
