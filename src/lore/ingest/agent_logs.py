"""Coding-agent session logs (JSON Lines): messages, tool calls and results, one event a line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..types import Draft, IngestProblem
from .base import Parsed, parse_time
from .jsondoc import type_name
from .lines import LineConnector, next_seq

ENTRY_TYPES = ("user", "assistant", "system", "summary")  # shape A's types that hold content
ROLES = ("system", "developer", "user", "assistant", "tool")
CODEX_TYPES = ("session_meta", "response_item", "event_msg", "turn_context")
MAX_REMEMBERED_TOOLS = 1000
KEPT_FIELDS = ("cwd", "gitBranch", "isSidechain")


class _Item(NamedTuple):
    """One record a line yields, before its session and position are known."""

    kind: str
    text: str
    role: str
    actor: str
    extra: dict[str, Any]


def _shape(item: Any) -> str | None:
    """Which log shape one decoded line has: "entry", "codex", "message" or None."""
    if not isinstance(item, dict):
        return None
    if item.get("type") in CODEX_TYPES and "payload" in item:
        return "codex"
    if item.get("type") in (*ENTRY_TYPES, "file-history-snapshot") and (
        "message" in item or "sessionId" in item or item.get("type") == "summary"
    ):
        return "entry"
    if item.get("role") in ROLES and ("content" in item or "tool_calls" in item):
        return "message"
    return None


def _text_of(content: Any) -> str:
    """Text of a string or of a list of parts (text parts only; others noted by type)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"'content' must be a string or a list of parts, got {type_name(content)}")
    pieces = []
    for part in content:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            pieces.append(part["text"])
        elif isinstance(part, dict):
            pieces.append(f"[{part.get('type') or 'part'}]")
    return "\n".join(p for p in pieces if p)


def _call_text(name: Any, arguments: Any) -> tuple[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return f"call {name}({arguments})", arguments
    return f"call {name}({json.dumps(arguments, ensure_ascii=False)})", arguments


class AgentLogConnector(LineConnector):
    """Agent session logs, one JSON event per line, in any of three shapes:

    - entries: `{"type": "user"|"assistant", "message": {"role", "content": [parts]},
      "timestamp", "sessionId", "uuid"}` with text, `tool_use` and `tool_result` parts
      (Claude Code's session files); `summary` lines become events;
    - rollouts: `{"type": "response_item", "payload": {"type": "message" | "function_call" |
      "function_call_output", ...}, "timestamp"}` after a `session_meta` line (Codex CLI);
    - messages: `{"role", "content", "tool_calls"?, "tool_call_id"?}` per line (OpenAI style).

    Other line types (file snapshots, UI events) are skipped. The log is append-only, so a
    grown file is read from where the last read stopped.
    """

    name = "agent-logs"
    suffixes = ()

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        if path.suffix.lower() not in (".jsonl", ".ndjson", ".log"):
            return False
        shapes = []
        for line in head.splitlines()[:-1][:8]:
            try:
                shapes.append(_shape(json.loads(line)))
            except json.JSONDecodeError:
                continue
        if "entry" in shapes or "codex" in shapes:
            return True
        # Plain role/content lines are chat (the jsonl connector) unless they use tools.
        return "message" in shapes and any(
            token in head for token in ('"tool_calls"', '"tool_call_id"', '"role": "tool"')
        )

    def parse_line(
        self, where: str, number: int, text: str, state: dict[str, Any]
    ) -> Iterator[Parsed]:
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            yield IngestProblem(where, number, f"invalid JSON: {exc.msg} at column {exc.colno}")
            return
        if not isinstance(item, dict):
            yield IngestProblem(where, number, f"expected an object, got {type_name(item)}")
            return
        shape = _shape(item)
        try:
            moment = parse_time(item["timestamp"]) if item.get("timestamp") else None
            if shape == "entry":
                found = list(self._entry(item, state))
            elif shape == "codex":
                found = list(self._codex(item, state))
            elif shape == "message":
                found = list(self._message(item, item, state))
            elif "type" in item or "payload" in item:
                return  # a line type that holds no conversation
            else:
                raise ValueError("neither a log entry nor a message (no 'type' or 'role')")
        except (ValueError, TypeError, OverflowError, OSError) as exc:
            yield IngestProblem(where, number, str(exc))
            return
        session = str(
            item.get("sessionId")
            or item.get("session_id")
            or state.get("session")
            or Path(where).stem
        )
        ident = item.get("uuid") or item.get("id") or f"line:{number}"
        for k, (kind, body, role, actor, extra) in enumerate(found):
            yield Draft(
                text=body,
                kind=kind,
                session_id=session,
                seq=next_seq(state, session),
                actor=actor,
                role=role,
                occurred_at=moment,
                metadata={"line": number, **extra},
                source_id=f"{ident}" if len(found) == 1 else f"{ident}:{k + 1}",
            )

    def _entry(self, item: dict[str, Any], state: dict[str, Any]) -> Iterator[_Item]:
        if item.get("type") == "summary":
            if isinstance(item.get("summary"), str) and item["summary"].strip():
                yield _Item("event", item["summary"], "system", "summary", {"type": "summary"})
            return
        message = item.get("message")
        if item.get("type") == "system" and not isinstance(message, dict):
            if isinstance(item.get("content"), str) and item["content"].strip():
                yield _Item("event", item["content"], "system", "system", {"type": "system"})
            return
        if not isinstance(message, dict):
            raise ValueError(f"'message' must be an object, got {type_name(message)}")
        extra: dict[str, Any] = {k: item[k] for k in KEPT_FIELDS if k in item}
        if isinstance(message.get("model"), str):
            extra["model"] = message["model"]
        yield from self._message(message, extra, state)

    def _message(
        self, message: dict[str, Any], extra: dict[str, Any], state: dict[str, Any]
    ) -> Iterator[_Item]:
        role = message.get("role")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        tools: dict[str, str] = state.setdefault("tools", {})
        meta = {k: v for k, v in extra.items() if k in (*KEPT_FIELDS, "model")}
        actor = str(meta.get("model") or message.get("model") or role)
        actor = actor if role == "assistant" else role
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            got = type_name(content)
            raise ValueError(f"'content' must be a string or a list of parts, got {got}")
        parts = content if isinstance(content, list) else [content] if content is not None else []
        texts: list[str] = []

        def said() -> Iterator[_Item]:  # text before a tool call comes before it
            text = "\n".join(t for t in texts if t)
            texts.clear()
            if text.strip() and role != "tool":
                yield _Item("message", text, role, actor, meta)

        for part in parts:
            kind = part.get("type") if isinstance(part, dict) else "text"
            if kind in ("tool_use", "tool_result"):
                yield from said()
            if kind == "tool_use" and isinstance(part, dict):
                yield self._call(
                    tools,
                    role,
                    actor,
                    meta,
                    part.get("id"),
                    part.get("name"),
                    part.get("input", {}),
                )
            elif kind == "tool_result" and isinstance(part, dict):
                call_id = str(part.get("tool_use_id"))
                body = _text_of(part.get("content") or "") or "(no output)"
                tool = tools.get(call_id, "tool")
                found = {"call_id": call_id, "tool": tool, "is_error": bool(part.get("is_error"))}
                yield _Item("tool_result", body, "tool", tool, {**meta, **found})
            elif kind not in ("thinking", "redacted_thinking"):  # private reasoning is skipped
                texts.append(_text_of([part]))
        if role == "tool":
            call_id = str(message.get("tool_call_id"))
            tool = str(message.get("name") or tools.get(call_id, "tool"))
            found = {"call_id": call_id, "tool": tool}
            text = "\n".join(t for t in texts if t)
            yield _Item("tool_result", text or "(no output)", "tool", tool, {**meta, **found})
        yield from said()
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise ValueError("a tool call must be {'function': {'name', 'arguments'}}")
            yield self._call(
                tools,
                role,
                actor,
                meta,
                call.get("id"),
                function["name"],
                function.get("arguments", {}),
            )
        while len(tools) > MAX_REMEMBERED_TOOLS:
            tools.pop(next(iter(tools)))

    @staticmethod
    def _call(
        tools: dict[str, str],
        role: str,
        actor: str,
        meta: dict[str, Any],
        call_id: Any,
        name: Any,
        arguments: Any,
    ) -> _Item:
        """A tool call, its name remembered so its result can say which tool answered."""
        tools[str(call_id)] = str(name)
        body, parsed = _call_text(name, arguments)
        found = {"tool": str(name), "call_id": call_id, "arguments": parsed}
        return _Item("tool_call", body, role, actor, {**meta, **found})

    def _codex(self, item: dict[str, Any], state: dict[str, Any]) -> Iterator[_Item]:
        payload = item.get("payload")
        if not isinstance(payload, dict):
            raise ValueError(f"'payload' must be an object, got {type_name(payload)}")
        if item["type"] == "session_meta":
            state["session"] = str(payload.get("id") or state.get("session") or "")
            return
        if item["type"] == "turn_context" and isinstance(payload.get("model"), str):
            state["model"] = payload["model"]
        if item["type"] != "response_item":
            return
        kind = payload.get("type")
        tools: dict[str, str] = state.setdefault("tools", {})
        model = {"model": state["model"]} if isinstance(state.get("model"), str) else {}
        if kind == "message":
            message = {"role": payload.get("role"), "content": payload.get("content")}
            yield from self._message(message, model, state)
        elif kind in ("function_call", "custom_tool_call"):
            arguments = payload.get("arguments", payload.get("input", {}))
            actor = model.get("model", "assistant")
            yield self._call(
                tools,
                "assistant",
                actor,
                model,
                payload.get("call_id"),
                payload.get("name"),
                arguments,
            )
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = payload.get("output")
            if isinstance(output, dict):
                output = output.get("content", json.dumps(output))
            call_id = str(payload.get("call_id"))
            tool = tools.get(call_id, "tool")
            body = (_text_of(output) if output is not None else "") or "(no output)"
            yield _Item("tool_result", body, "tool", tool, {"call_id": call_id, "tool": tool})
