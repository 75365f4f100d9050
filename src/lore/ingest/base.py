"""The connector contract (one required method, `parse`) and the name-to-class registry."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError, IngestError
from ..types import Draft, IngestProblem

Parsed = Draft | IngestProblem

_REGISTRY: dict[str, str] = {
    # Detection tries these in order, so the most specific formats come first.
    "slack": "lore.ingest.slack:SlackConnector",
    "github": "lore.ingest.github:GitHubConnector",
    "otel": "lore.ingest.otel:OtelConnector",
    "locomo": "lore.ingest.locomo:LocomoConnector",
    "openai": "lore.ingest.openai_chat:OpenAIChatConnector",
    "agent-logs": "lore.ingest.agent_logs:AgentLogConnector",
    "jsonl": "lore.ingest.jsonl:JsonlConnector",
    "email": "lore.ingest.email:EmailConnector",
    "vtt": "lore.ingest.transcripts:VttConnector",
    "srt": "lore.ingest.transcripts:SrtConnector",
    "meeting-text": "lore.ingest.transcripts:MeetingTextConnector",
    "html": "lore.ingest.documents:HtmlConnector",
    "pdf": "lore.ingest.documents:PdfConnector",
    "markdown": "lore.ingest.documents:MarkdownConnector",
    "text": "lore.ingest.documents:TextConnector",
}


class Connector(ABC):
    """Reads one source (a file; a folder or zip when `directories`) and yields drafts, or a
    problem for each item it cannot parse."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]] = ()
    # Capabilities, all off by default; incremental sync (ingest/sync.py) reads them.
    directories: ClassVar[bool] = False  # reads a whole folder (or a zip of one) as one source
    appendable: ClassVar[bool] = False  # only ever appended to: resumes at a byte offset
    snapshot: ClassVar[bool] = False  # each read is the whole document: what is gone is hidden
    versioned: ClassVar[bool] = False  # a new content for a source id supersedes the old one

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        """Whether this connector reads `path`, given its first few kilobytes."""
        return path.suffix.lower() in cls.suffixes

    @classmethod
    def sniff_directory(cls, path: Path) -> bool:
        """Whether this connector reads the folder `path` as one source."""
        return False

    @abstractmethod
    def parse(self, path: Path) -> Iterator[Parsed]:
        """Drafts in source order; an `IngestProblem` for each item that cannot be read."""


def register_connector(name: str, target: str) -> None:
    """Register a connector class under `name` ("package.module:Class")."""
    _REGISTRY[name] = target


def available_formats() -> list[str]:
    return list(_REGISTRY)


def _load(name: str) -> type[Connector]:
    module_name, _, class_name = _REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def get_connector(name: str) -> Connector:
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown format {name!r}", hint=f"choose one of auto, {', '.join(available_formats())}"
        )
    return _load(name)()


def detect_format(path: Path) -> str:
    """The first registered format whose `sniff` (or, for a folder, `sniff_directory`)
    accepts `path`."""
    if path.is_dir():
        for name in _REGISTRY:
            cls = _load(name)
            if cls.directories and cls.sniff_directory(path):
                return name
        raise IngestError(
            "no connector reads this folder as one source",
            file=str(path),
            hint="ingest walks such a folder file by file",
        )
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            head = handle.read(8192)
    except OSError as exc:
        raise IngestError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    for name in _REGISTRY:
        if _load(name).sniff(path, head):
            return name
    raise IngestError(
        "cannot tell the format",
        file=str(path),
        hint=f"pass --format, one of {', '.join(available_formats())}",
    )


def parse_time(value: Any) -> datetime:
    """A timestamp from ISO 8601 text or epoch seconds (or milliseconds); naive means UTC."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")
