"""The LoCoMo benchmark file: one namespace per conversation, one record per turn."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..types import Draft, IngestProblem
from .base import Connector, Parsed

_SESSION_KEY = re.compile(r"^session_(\d+)$")


def parse_locomo_time(text: str) -> datetime:
    """LoCoMo's "1:56 pm on 8 May, 2023" as a UTC datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    """A turn's text with its shared image described as `[image: caption]`."""
    text = str(turn.get("text") or "").strip()
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [image: {str(caption).strip()}]".strip()
    return text


class LocomoConnector(Connector):
    """`[{"sample_id", "conversation": {"session_N": [turns], "session_N_date_time"}, "qa"}]`."""

    name = "locomo"
    suffixes = ()

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        return path.suffix.lower() == ".json" and '"conversation"' in head and '"session_1' in head

    def parse(self, path: Path) -> Iterator[Parsed]:
        where = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            yield IngestProblem(where, exc.lineno, f"invalid JSON at column {exc.colno}: {exc.msg}")
            return
        if not isinstance(data, list):
            yield IngestProblem(where, None, "expected a list of conversations")
            return
        for index, sample in enumerate(data):
            yield from self._conversation(where, index, sample)

    def _conversation(self, where: str, index: int, sample: Any) -> Iterator[Parsed]:
        if not isinstance(sample, dict) or not isinstance(sample.get("conversation"), dict):
            yield IngestProblem(
                where, None, f"conversation {index}: expected an object with 'conversation'"
            )
            return
        name = str(sample.get("sample_id") or f"conv-{index}")
        conversation = sample["conversation"]
        sessions = sorted(
            (int(m.group(1)), key) for key in conversation if (m := _SESSION_KEY.match(key))
        )
        for number, key in sessions:
            turns = conversation[key]
            date_text = conversation.get(f"{key}_date_time")
            try:
                occurred = parse_locomo_time(date_text) if date_text else None
            except (TypeError, ValueError):
                yield IngestProblem(where, None, f"{name} {key}: bad date {date_text!r}")
                occurred = None
            if not isinstance(turns, list):
                yield IngestProblem(where, None, f"{name} {key}: expected a list of turns")
                continue
            for seq, turn in enumerate(turns):
                if not isinstance(turn, dict) or not turn_text(turn):
                    yield IngestProblem(where, None, f"{name} {key} turn {seq}: no text")
                    continue
                dia_id = str(turn.get("dia_id") or f"D{number}:{seq + 1}")
                yield Draft(
                    text=turn_text(turn),
                    kind="message",
                    session_id=key,
                    seq=seq,
                    actor=str(turn.get("speaker") or "") or None,
                    occurred_at=occurred,
                    metadata={"dia_id": dia_id, "conversation": name},
                    source_id=f"{name}/{dia_id}",
                    namespace=name,
                )
