"""`lore fold`: fold a long chat transcript into mementos that fit a token budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..engine import DEFAULT_NAMESPACE
from ..errors import QueryError
from ..tokens import DEFAULT_ENCODING, ENCODINGS
from .app import Settings, cli, emit_json, json_option, note

FORMATS = ("auto", "openai", "jsonl")


def read_messages(path: Path, fmt: str = "auto") -> list[Any]:
    """Chat messages from a JSON file (a list, or an object with `messages`) or JSON lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"cannot read {path}: {exc}") from None
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "openai"
    if fmt == "jsonl":
        messages = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    messages.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise QueryError(f"{path}:{line_no}: invalid JSON: {exc.msg}") from None
        return messages
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return list(data["messages"])
    if not isinstance(data, list):
        raise QueryError(
            f"{path}: expected a list of chat messages or an object with 'messages'"
        )
    return data


def _show(message: dict[str, Any]) -> str:
    who = message.get("name") or message["role"]
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    calls = [
        f"call {c['function']['name']}({c['function'].get('arguments', '')})"
        for c in message.get("tool_calls") or []
    ]
    body = "\n".join(p for p in [text if content is not None else "", *calls] if p)
    return f"[{who}]\n{body}"


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--budget", type=click.IntRange(1), required=True,
    help="Token budget for the folded conversation (exact count, never exceeded).",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
    help="openai: a JSON list of messages (or {'messages': [...]}); jsonl: one per line.",
)
@click.option(
    "--namespace", default=DEFAULT_NAMESPACE, show_default=True,
    help="Namespace the original messages are stored under.",
)
@click.option(
    "--session", default=None,
    help="Session id for the stored messages. Default: derived from the conversation.",
)
@click.option(
    "--encoding", type=click.Choice(ENCODINGS), default=DEFAULT_ENCODING, show_default=True,
    help="Tokenizer used to count the budget.",
)
@json_option
@click.pass_obj
def fold(
    settings: Settings,
    file: Path,
    budget: int,
    fmt: str,
    namespace: str,
    session: str | None,
    encoding: str,
    as_json: bool,
) -> None:
    """Fold the chat in FILE to fit --budget tokens: recent blocks stay raw, older blocks
    become short mementos.

    The original messages are stored as evidence; each memento starts with a fold:ID handle
    that `lore expand` turns back into the block's messages, verbatim and in order.
    """
    messages = read_messages(file, fmt)
    result = settings.open().fold(
        messages, budget, namespace=namespace, session=session, encoding=encoding
    )
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo("\n\n".join(_show(m) for m in result.messages))
    count = len(result.mementos)
    note(
        f"{result.tokens_before} → {result.tokens_after}/{budget} tokens ({encoding}) · "
        f"{count} memento{'' if count == 1 else 's'} · {result.raw_turns} recent turn"
        f"{'' if result.raw_turns == 1 else 's'} raw · session {result.session}"
    )
    for line in result.notes:
        note(line)
