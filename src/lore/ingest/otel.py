"""OpenTelemetry GenAI spans as OTLP/JSON: prompts, completions, tool calls and token usage."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..types import Draft, IngestProblem
from .base import Connector, Parsed
from .jsondoc import documents, read_text, type_name

USAGE_KEYS = {
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.prompt_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
    "gen_ai.usage.completion_tokens": "output_tokens",
}


def any_value(value: Any) -> Any:
    """An OTLP/JSON AnyValue ({"stringValue": ...}, {"intValue": "3"}, ...) as Python."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"not an OTLP AnyValue: {json.dumps(value)[:60]}")
    ((kind, inner),) = value.items()
    if kind in ("stringValue", "boolValue", "doubleValue"):
        return inner
    if kind == "intValue":
        return int(inner)
    if kind == "bytesValue":
        return base64.b64decode(inner).hex()
    if kind == "arrayValue":
        return [any_value(v) for v in (inner or {}).get("values", [])]
    if kind == "kvlistValue":
        return attributes((inner or {}).get("values", []))
    raise ValueError(f"unknown AnyValue kind {kind!r}")


def attributes(items: Any) -> dict[str, Any]:
    """OTLP `[{"key", "value"}]` attributes as a dict."""
    if not isinstance(items, list):
        raise ValueError(f"attributes must be an array, got {type_name(items)}")
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ValueError("an attribute must be an object with a 'key' string")
        out[item["key"]] = any_value(item.get("value"))
    return out


def _nanos(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be nanoseconds, got {value!r}") from None


def _moment(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, tz=UTC)


def _messages(value: Any, key: str) -> list[dict[str, Any]]:
    """A JSON-encoded message list attribute (`gen_ai.input.messages`, ...) as a list."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{key} is not valid JSON: {exc.msg}") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise ValueError(f"{key} must be a list of message objects")
    return value


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Legacy flattened messages: `gen_ai.prompt.0.role`, `gen_ai.prompt.0.content`, ..."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            index, _, field = key[len(prefix) :].partition(".")
            if index.isdigit() and field in ("role", "content"):
                found.setdefault(int(index), {})[field] = value
    return [found[i] for i in sorted(found)]


def _parts(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """(text, tool calls, tool results) of a message in the GenAI `parts` or OpenAI shape."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    content = message.get("parts", message.get("content"))
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            kind = part.get("type")
            if kind == "tool_call":
                calls.append(
                    {
                        "id": part.get("id"),
                        "name": part.get("name"),
                        "arguments": part.get("arguments"),
                    }
                )
            elif kind in ("tool_call_response", "tool_result"):
                results.append(
                    {"id": part.get("id"), "result": part.get("response", part.get("result"))}
                )
            elif isinstance(body := part.get("content", part.get("text")), str):
                texts.append(body)
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            inner = call.get("function")
            function: dict[str, Any] = inner if isinstance(inner, dict) else call
            calls.append(
                {
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
    if message.get("role") == "tool" and texts and not results:
        results.append(
            {"id": message.get("tool_call_id") or message.get("id"), "result": "\n".join(texts)}
        )
        texts = []
    return "\n".join(t for t in texts if t.strip()), calls, results


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class OtelConnector(Connector):
    """OTLP/JSON trace exports (`{"resourceSpans": [...]}`, one per file or one per line as the
    collector's file exporter writes them). Only spans with `gen_ai.*` attributes become
    records; the trace id is the session. Messages come from `gen_ai.input.messages` /
    `gen_ai.output.messages`, from `gen_ai.*.message` span events, or from the older
    `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` attributes. A message re-sent in a later
    call of the same trace (the history every call repeats) is stored once."""

    name = "otel"
    suffixes = ()

    @classmethod
    def sniff(cls, path: Path, head: str) -> bool:
        return path.suffix.lower() in (".json", ".jsonl", ".ndjson") and '"resourceSpans"' in head

    def parse(self, path: Path) -> Iterator[Parsed]:
        where = str(path)
        text = read_text(path)
        if isinstance(text, IngestProblem):
            yield text
            return
        seen: dict[str, set[str]] = {}  # per trace: messages and tool call ids already stored
        for document in documents(text, where):
            if isinstance(document, IngestProblem):
                yield document
                continue
            request = document.value
            if not isinstance(request, dict) or not isinstance(request.get("resourceSpans"), list):
                reason = f"expected {{'resourceSpans': [...]}}, got {type_name(request)}"
                yield IngestProblem(where, document.line, reason)
                continue
            for r, resource in enumerate(request["resourceSpans"]):
                for s, scope in enumerate((resource or {}).get("scopeSpans") or []):
                    for n, span in enumerate((scope or {}).get("spans") or []):
                        place = f"$.resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                        try:
                            drafts = list(self._span(span, seen))
                        except (ValueError, TypeError, AttributeError) as exc:
                            yield IngestProblem(where, document.line, f"{place}: {exc}")
                            continue
                        for draft in drafts:
                            draft.metadata["line"] = document.line
                            yield draft

    def _span(self, span: Any, seen: dict[str, set[str]]) -> Iterator[Draft]:
        if not isinstance(span, dict):
            raise ValueError(f"expected a span object, got {type_name(span)}")
        trace = span.get("traceId")
        if not isinstance(trace, str) or not trace:
            raise ValueError("no 'traceId'")
        attrs = attributes(span.get("attributes") or [])
        events = span.get("events") or []
        if not any(k.startswith("gen_ai.") for k in attrs) and not any(
            isinstance(e, dict) and str(e.get("name", "")).startswith("gen_ai.") for e in events
        ):
            return  # not a GenAI span (HTTP, database, ...): nothing to store
        start = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano")
        operation = attrs.get("gen_ai.operation.name") or span.get("name") or "span"
        model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
        agent = attrs.get("gen_ai.agent.name")
        base: dict[str, Any] = {"span_id": span.get("spanId"), "operation": operation}
        if model:
            base["model"] = model
        usage = {name: attrs[key] for key, name in USAGE_KEYS.items() if key in attrs}
        memory = seen.setdefault(trace, set())
        inputs, outputs = self._conversation(attrs, events)
        count = 0

        unbilled = dict(usage)  # token usage goes on the first output record of the call

        def draft(kind: str, text: str, role: str, actor: Any, extra: dict[str, Any]) -> Draft:
            nonlocal count
            count += 1
            if extra.pop("output", False):
                extra = {**unbilled, **extra}
                unbilled.clear()
            return Draft(
                text=text,
                kind=kind,
                session_id=trace,
                seq=start + count,
                actor=str(actor),
                role=role,
                occurred_at=_moment(start),
                metadata={**base, **extra},
                source_id=f"{trace}:{span.get('spanId')}:{count}",
            )

        for message, is_output in [*((m, False) for m in inputs), *((m, True) for m in outputs)]:
            role = str(message.get("role") or ("assistant" if is_output else "user"))
            text, calls, results = _parts(message)
            actor = (agent or model or role) if role == "assistant" else role
            key = json.dumps([role, text], ensure_ascii=False)
            if text and (is_output or key not in memory):
                memory.add(key)
                yield draft("message", text, role, actor, {"output": is_output})
            for call in calls:
                call_key = f"call:{call['id'] or json.dumps(call, default=str)}"
                if call_key not in memory:
                    memory.add(call_key)
                    body = f"call {call['name']}({_as_text(call['arguments'] or {})})"
                    yield draft(
                        "tool_call",
                        body,
                        role,
                        actor,
                        {"tool": call["name"], "call_id": call["id"], "output": is_output},
                    )
            for result in results:
                result_key = f"result:{result['id'] or json.dumps(result, default=str)}"
                if result_key not in memory:
                    memory.add(result_key)
                    body = _as_text(result["result"]) or "(no output)"
                    yield draft("tool_result", body, "tool", role, {"call_id": result["id"]})
        tool = attrs.get("gen_ai.tool.name")
        call_id = attrs.get("gen_ai.tool.call.id")
        if tool and f"call:{call_id}" not in memory:
            memory.add(f"call:{call_id}")
            arguments = attrs.get("gen_ai.tool.call.arguments", {})
            yield draft(
                "tool_call",
                f"call {tool}({_as_text(arguments)})",
                "assistant",
                agent or "assistant",
                {"tool": tool, "call_id": call_id},
            )
        if tool and "gen_ai.tool.call.result" in attrs and f"result:{call_id}" not in memory:
            memory.add(f"result:{call_id}")
            body = _as_text(attrs["gen_ai.tool.call.result"]) or "(no output)"
            yield draft("tool_result", body, "tool", tool, {"tool": tool, "call_id": call_id})
        if count == 0 and (usage or agent):
            tokens = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in usage.items())
            who = agent or model or "model"
            text = f"{operation} by {who}" + (f" ({tokens})" if tokens else "")
            yield draft("event", text, "assistant", who, usage)

    @staticmethod
    def _conversation(
        attrs: dict[str, Any], events: Any
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(input messages, output messages) from whichever convention the span uses."""
        inputs: list[dict[str, Any]] = []
        if "gen_ai.system_instructions" in attrs:
            inputs += [
                {
                    "role": "system",
                    "parts": _messages(
                        attrs["gen_ai.system_instructions"], "gen_ai.system_instructions"
                    ),
                }
            ]
        if "gen_ai.input.messages" in attrs:
            inputs += _messages(attrs["gen_ai.input.messages"], "gen_ai.input.messages")
        outputs: list[dict[str, Any]] = []
        if "gen_ai.output.messages" in attrs:
            outputs += _messages(attrs["gen_ai.output.messages"], "gen_ai.output.messages")
        inputs += _indexed(attrs, "gen_ai.prompt.")
        outputs += [{"role": "assistant", **m} for m in _indexed(attrs, "gen_ai.completion.")]
        if not isinstance(events, list):
            raise ValueError(f"'events' must be an array, got {type_name(events)}")
        for event in events:
            name = str(event.get("name", "")) if isinstance(event, dict) else ""
            if not name.startswith("gen_ai."):
                continue
            body = attributes(event.get("attributes") or [])
            message = body.get("gen_ai.event.content", body.get("message", body))
            message = _messages(message, name)[0] if isinstance(message, str) else message
            if name == "gen_ai.choice":
                inner = message.get("message", message)
                outputs.append({"role": "assistant", **inner})
            elif name.endswith(".message"):
                role = name.removeprefix("gen_ai.").removesuffix(".message")
                inputs.append({"role": role, **message})
        return inputs, outputs
