"""OpenAI chat messages: validation that names the bad message, and exact token accounting."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import QueryError
from ..ingest.base import parse_time
from ..tokens import DEFAULT_ENCODING, count_tokens

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Per-message accounting as in OpenAI's cookbook (num_tokens_from_messages, cl100k models).
PER_MESSAGE, PER_NAME, REPLY = 3, 1, 3


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or its text parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else p.get("text") or f"[{p.get('type', 'part')}]"
             for p in content]
    return "\n".join(str(p) for p in parts if p)


def validate_messages(messages: Any) -> list[dict[str, Any]]:
    """`messages` as OpenAI chat messages, or a QueryError naming the first bad index."""
    if not isinstance(messages, list | tuple):
        raise QueryError(f"messages must be a list of chat messages, not {type(messages).__name__}")
    for i, m in enumerate(messages):
        def bad(reason: str, i: int = i) -> QueryError:
            return QueryError(f"messages[{i}]: {reason}",
                              hint="each message needs a 'role' and string 'content'")
        if not isinstance(m, dict):
            raise bad(f"expected an object, got {type(m).__name__}")
        role = m.get("role")
        if not isinstance(role, str) or not role:
            raise bad("missing 'role'")
        if role not in ROLES:
            raise bad(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        content = m.get("content")
        if content is not None and not isinstance(content, str | list):
            raise bad(f"'content' must be a string or a list, not {type(content).__name__}")
        if isinstance(content, list) and not all(isinstance(p, str | dict) for p in content):
            raise bad("every content part must be a string or an object")
        for key in ("name", "tool_call_id"):
            if m.get(key) is not None and not isinstance(m[key], str):
                raise bad(f"{key!r} must be a string")
        calls = m.get("tool_calls")
        if calls is not None and (not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("function"), dict)
            and isinstance(c["function"].get("name"), str) for c in calls
        )):
            raise bad("'tool_calls' must be a list of {'id', 'function': {'name', 'arguments'}}")
        if m.get("timestamp") is not None:
            try:
                parse_time(m["timestamp"])
            except (ValueError, OverflowError, OSError) as exc:
                raise bad(f"bad timestamp: {exc}") from None
    return [dict(m) for m in messages]


def message_tokens(message: dict[str, Any], encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens one message costs: 3 + role + content (+ 1 + name) + tool calls and call id."""
    n = PER_MESSAGE + count_tokens(str(message.get("role", "")), encoding)
    n += count_tokens(content_text(message.get("content")), encoding)
    if message.get("name"):
        n += PER_NAME + count_tokens(str(message["name"]), encoding)
    if message.get("tool_calls"):
        n += count_tokens(json.dumps(message["tool_calls"], ensure_ascii=False), encoding)
    if message.get("tool_call_id"):
        n += count_tokens(str(message["tool_call_id"]), encoding)
    return n


def conversation_tokens(
    messages: Sequence[dict[str, Any]], encoding: str = DEFAULT_ENCODING
) -> int:
    """Exact tokens of a message list: each message's cost plus 3 to prime the reply."""
    return sum(message_tokens(m, encoding) for m in messages) + (REPLY if messages else 0)
