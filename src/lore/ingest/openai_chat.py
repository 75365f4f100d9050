"""OpenAI chat-completions messages as JSON: one run or several, tool calls included."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..types import Draft, IngestProblem
from .base import Connector, Parsed, parse_time
from .jsondoc import DECODER, item_offsets, skip_space

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
RUN_TIME_KEYS = ("created", "timestamp", "created_at")


def _member_offset(text: str, pos: int, key: str) -> int | None:
    """Start offset of `key`'s value in the (already validated) JSON object at `pos`."""
    found = None
    pos = skip_space(text, pos + 1)
    while text[pos] != "}":
        name, pos = DECODER.raw_decode(text, pos)
        pos = skip_space(text, skip_space(text, pos) + 1)  # past the ':'
        if name == key:
            found = pos  # the last duplicate wins, as in json.loads
        _, pos = DECODER.raw_decode(text, pos)
        pos = skip_space(text, pos)
        if text[pos] == ",":
            pos = skip_space(text, pos + 1)
    return found


def _is_run(item: Any) -> bool:
    return isinstance(item, dict) and "messages" in item and "role" not in item


@dataclass
class _Run:
    """One conversation: its messages, the line each starts on, and its own fields."""

    session_id: str
    messages: list[Any]
    lines: list[int | None]
    occurred_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _content_text(content: Any) -> tuple[str, list[str]] | str:
    """A message's text and the types of its parts; a reason string when it is malformed."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, ["text"]
    if not isinstance(content, list):
        return f"'content' must be a string or a list of parts, not {type(content).__name__}"
    pieces: list[str] = []
    kinds: list[str] = []
    for number, part in enumerate(content, start=1):
        if isinstance(part, str):
            pieces.append(part)
            kinds.append("text")
            continue
        if not isinstance(part, dict):
            return f"content part {number} must be an object, not {type(part).__name__}"
        kind = str(part.get("type") or "unknown")
        kinds.append(kind)
        if kind in ("text", "input_text", "output_text"):
            if not isinstance(part.get("text"), str):
                return f"content part {number} has no 'text' string"
            pieces.append(part["text"])
        else:
            pieces.append(f"[{kind}]")  # noted, so nothing vanishes without a trace
    return "\n".join(p for p in pieces if p), kinds


def _call_text(name: str, arguments: Any) -> tuple[str, Any]:
    """`call name({...})` and the arguments as an object when they are valid JSON."""
    parsed = arguments
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return f"call {name}({arguments})", arguments
    return f"call {name}({json.dumps(parsed, ensure_ascii=False)})", parsed


class OpenAIChatConnector(Connector):
    """`[messages]`, `{"messages", "id"?, "created"?, "metadata"?}` or a list of such runs."""

    name = "openai"
    suffixes = (".json",)

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        is_locomo = '"conversation"' in head and '"session_1' in head
        return path.suffix.lower() == ".json" and '"role"' in head and not is_locomo

    def parse(self, path: Path) -> Iterator[Parsed]:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            yield IngestProblem(where, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield IngestProblem(where, exc.lineno, f"invalid JSON at column {exc.colno}: {exc.msg}")
            return
        newlines = [m.start() for m in re.finditer("\n", text)]

        def line_of(offset: int | None) -> int | None:
            return None if offset is None else bisect_right(newlines, offset - 1) + 1

        start = skip_space(text, 0)
        runs: list[_Run | IngestProblem] = []
        if isinstance(data, dict):
            if not isinstance(data.get("messages"), list):
                reason = "expected a list of messages or an object with 'messages'"
                yield IngestProblem(where, 1, reason)
                return
            runs.append(self._run(where, path.stem, data, text, start, line_of))
        elif isinstance(data, list) and any(_is_run(item) for item in data):
            offsets = item_offsets(text, start)
            for number, (item, offset) in enumerate(zip(data, offsets, strict=True), start=1):
                if not _is_run(item) or not isinstance(item["messages"], list):
                    reason = f"run {number}: expected an object with a 'messages' list"
                    runs.append(IngestProblem(where, line_of(offset), reason))
                else:
                    stem = f"{path.stem}-{number}" if len(data) > 1 else path.stem
                    runs.append(self._run(where, stem, item, text, offset, line_of))
        elif isinstance(data, list):
            lines = [line_of(offset) for offset in item_offsets(text, start)]
            runs.append(_Run(path.stem, data, lines))
        else:
            reason = f"expected a list or an object, got {type(data).__name__}"
            yield IngestProblem(where, 1, reason)
            return
        for run in runs:
            if isinstance(run, IngestProblem):
                yield run
            else:
                yield from self._messages(where, run)

    def _run(
        self,
        where: str,
        stem: str,
        data: dict[str, Any],
        text: str,
        offset: int,
        line_of: Callable[[int | None], int | None],
    ) -> _Run | IngestProblem:
        session = data.get("session") or data.get("session_id") or data.get("id") or stem
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            reason = f"run {session}: 'metadata' must be an object"
            return IngestProblem(where, line_of(offset), reason)
        moment = next((data[k] for k in RUN_TIME_KEYS if data.get(k) is not None), None)
        try:
            occurred = parse_time(moment) if moment is not None else None
        except (ValueError, OverflowError, OSError) as exc:
            return IngestProblem(where, line_of(offset), f"run {session}: bad timestamp: {exc}")
        messages_at = _member_offset(text, offset, "messages")
        lines = [line_of(o) for o in item_offsets(text, messages_at or offset)]
        return _Run(str(session), data["messages"], lines, occurred, metadata)

    def _messages(self, where: str, run: _Run) -> Iterator[Parsed]:
        tool_names: dict[str, str] = {}
        seq = 0
        for index, (message, line) in enumerate(zip(run.messages, run.lines, strict=True)):
            number = index + 1
            for item in self._message(where, run, message, number, line, tool_names):
                if isinstance(item, Draft):
                    item = replace(item, seq=seq)
                    seq += 1
                yield item

    def _message(
        self,
        where: str,
        run: _Run,
        message: Any,
        number: int,
        line: int | None,
        tool_names: dict[str, str],
    ) -> Iterator[Parsed]:
        def problem(reason: str) -> IngestProblem:
            return IngestProblem(where, line, f"message {number}: {reason}")

        if not isinstance(message, dict):
            yield problem(f"expected an object, got {type(message).__name__}")
            return
        role = message.get("role")
        if not isinstance(role, str) or not role:
            yield problem("missing 'role'")
            return
        if role not in ROLES:
            yield problem(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
            return
        content = _content_text(message.get("content"))
        if isinstance(content, str):
            yield problem(content)
            return
        text, parts = content
        occurred = run.occurred_at
        if message.get("timestamp") is not None:
            try:
                occurred = parse_time(message["timestamp"])
            except (ValueError, OverflowError, OSError) as exc:
                yield problem(f"bad timestamp: {exc}")
                return
        name = message.get("name")
        actor = str(name) if name else role
        base: dict[str, Any] = {"line": line, "message": number}
        if run.metadata:
            base["run"] = run.metadata
        if parts and set(parts) != {"text"}:
            base["parts"] = parts

        def draft(kind: str, body: str, source: str, **extra: Any) -> Draft:
            return Draft(
                text=body,
                kind=kind,
                session_id=run.session_id,
                actor=actor,
                role=role,
                occurred_at=occurred,
                metadata={**base, **extra},
                source_id=f"{run.session_id}:{source}",
            )

        calls = message.get("tool_calls") or []
        if role == "assistant" and message.get("function_call") is not None:
            calls = [*calls, {"id": None, "function": message["function_call"]}]
        if not isinstance(calls, list):
            yield problem("'tool_calls' must be a list")
            return
        if role in ("tool", "function"):
            call_id = message.get("tool_call_id")
            tool = tool_names.get(str(call_id)) if call_id is not None else None
            tool = tool or (str(name) if name else None)
            # An empty result is still evidence that the call returned.
            body = text if text.strip() else "(no output)"
            yield draft("tool_result", body, f"{number}", tool_call_id=call_id, tool=tool)
            return
        if not text.strip() and not calls:
            yield problem("no content and no tool calls")
            return
        if text.strip():
            yield draft("message", text, f"{number}")
        for k, call in enumerate(calls, start=1):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                yield problem(f"tool call {k}: expected {{'function': {{'name', 'arguments'}}}}")
                continue
            tool = function["name"]
            call_id = call.get("id")
            if call_id is not None:
                tool_names[str(call_id)] = tool
            body, arguments = _call_text(tool, function.get("arguments", {}))
            source = f"{number}:call:{k}"
            yield draft("tool_call", body, source, tool=tool, call_id=call_id, arguments=arguments)
