"""Chat messages as JSON Lines: one message per line (session, actor, role, text, timestamp)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..types import Draft, IngestProblem
from .base import Connector, Parsed, parse_time

TEXT_KEYS = ("text", "content", "message", "body")
ACTOR_KEYS = ("actor", "user", "speaker", "author", "name", "from")
TIME_KEYS = ("timestamp", "ts", "time", "occurred_at", "created_at", "date")
SESSION_KEYS = ("session", "session_id", "channel", "thread", "conversation")


def _first(item: dict, keys: tuple[str, ...]) -> object:
    for key in keys:
        if item.get(key) not in (None, ""):
            return item[key]
    return None


class JsonlConnector(Connector):
    """`{"session", "actor", "role", "text", "timestamp", "metadata"?, "id"?}` per line."""

    name = "jsonl"
    suffixes = (".jsonl", ".ndjson")

    def parse(self, path: Path) -> Iterator[Parsed]:
        where = str(path)
        seq_by_session: dict[str, int] = {}
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield IngestProblem(
                        where, number, f"invalid JSON: {exc.msg} at column {exc.colno}"
                    )
                    continue
                if not isinstance(item, dict):
                    yield IngestProblem(
                        where, number, f"expected an object, got {type(item).__name__}"
                    )
                    continue
                text = _first(item, TEXT_KEYS)
                if not isinstance(text, str) or not text.strip():
                    yield IngestProblem(
                        where, number, "no text: expected a non-empty 'text' string"
                    )
                    continue
                occurred = _first(item, TIME_KEYS)
                try:
                    moment = parse_time(occurred) if occurred is not None else None
                except (ValueError, OverflowError, OSError) as exc:
                    yield IngestProblem(where, number, f"bad timestamp {occurred!r}: {exc}")
                    continue
                metadata = item.get("metadata", {})
                if not isinstance(metadata, dict):
                    yield IngestProblem(where, number, "'metadata' must be an object")
                    continue
                session = _first(item, SESSION_KEYS)
                session_id = str(session) if session is not None else path.stem
                seq = seq_by_session.get(session_id, 0)
                seq_by_session[session_id] = seq + 1
                actor = _first(item, ACTOR_KEYS)
                yield Draft(
                    text=text,
                    kind=str(item.get("kind") or "message"),
                    session_id=session_id,
                    seq=seq,
                    actor=str(actor) if actor is not None else None,
                    role=str(item["role"]) if item.get("role") else None,
                    occurred_at=moment,
                    metadata={**metadata, "line": number},
                    source_id=str(item["id"]) if item.get("id") is not None else f"line:{number}",
                )
