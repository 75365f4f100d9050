"""Validated structured output: prompts asking for JSON, checked against a schema, retried."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..types import Record
from .client import ChatClient, LLMError

MAX_TURNS = 120  # turns per call: one call per session batch, for facts and episode together
TURN_CHARS = 600
RETRIES = 2  # after the first answer: at most 3 calls per batch


class FactOut(BaseModel):
    """One atomic fact the model found; `evidence` are turn numbers from the prompt."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(min_length=1, max_length=120)
    attribute: str = Field(min_length=1, max_length=80)
    value: str = Field(min_length=1, max_length=200)
    statement: str = Field(min_length=1, max_length=400)
    evidence: list[int] = Field(min_length=1, max_length=10)
    valid_from: date | None = None


class EpisodeOut(BaseModel):
    """What the session amounts to, and its key turns (numbers)."""

    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=800)
    key_points: list[int] = Field(min_length=1, max_length=5)


class SessionOut(BaseModel):
    """The whole answer for one session batch."""

    model_config = ConfigDict(extra="forbid")
    episode: EpisodeOut
    facts: list[FactOut] = Field(default_factory=list, max_length=40)


SYSTEM = (
    "You turn a conversation into memories. Reply with one JSON object and nothing else, of"
    " this shape: {\"episode\": {\"summary\": str, \"key_points\": [turn numbers, 1 to 5]},"
    " \"facts\": [{\"subject\": str, \"attribute\": str, \"value\": str, \"statement\": str,"
    " \"evidence\": [turn numbers], \"valid_from\": \"YYYY-MM-DD\" or null}]}."
    " A fact is an atomic statement about a person, team or thing that stays true for a while"
    " (where someone lives, works, what a team uses, who owns what). Use the speaker's name as"
    " subject for first-person statements and a short lowercase attribute (\"residence\","
    " \"employer\", \"favourite food\") so that a later incompatible statement shares it."
    " Only state what the turns say; cite the turn numbers."
)


@dataclass(frozen=True, slots=True)
class Extraction:
    """The outcome of one batch: the validated answer, or the error and the last raw output."""

    result: SessionOut | None
    calls: int
    tokens: int
    error: str = ""
    raw: str = ""


def render_turns(records: Sequence[Record]) -> str:
    lines = []
    for n, record in enumerate(records, start=1):
        when = f"{record.occurred_at:%Y-%m-%d} " if record.occurred_at else ""
        who = f"{record.actor}: " if record.actor else ""
        text = " ".join(record.text.split())[:TURN_CHARS]
        lines.append(f"[{n}] {when}{who}{text}")
    return "\n".join(lines)


def validate(raw: str, turns: int) -> SessionOut:
    """The answer parsed and checked (schema, and turn numbers that exist); ValueError if not."""
    text = raw.strip()
    if text.startswith("```"):  # a fenced block is still the JSON asked for
        text = text.strip("`").removeprefix("json").strip()
    try:
        answer = SessionOut.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"schema: {where}: {first['msg']} ({exc.error_count()} errors)") from None
    cited = [*answer.episode.key_points, *(n for f in answer.facts for n in f.evidence)]
    if bad := [n for n in cited if not 1 <= n <= turns]:
        raise ValueError(f"schema: turn number {bad[0]} is not between 1 and {turns}")
    return answer


def extract_session(
    client: ChatClient, records: Sequence[Record], retries: int = RETRIES
) -> Extraction:
    """One validated extraction for a session batch: the first call, then at most `retries`
    more, each told what was wrong with the last answer."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": render_turns(records)},
    ]
    calls = tokens = 0
    error = raw = ""
    for _ in range(1 + retries):
        try:
            answer = client.complete(messages)
        except LLMError as exc:
            return Extraction(None, calls + 1, tokens, str(exc), raw)
        calls += 1
        tokens += answer.tokens
        raw = answer.text
        try:
            return Extraction(validate(raw, len(records)), calls, tokens)
        except ValueError as exc:
            error = str(exc)
        messages += [
            {"role": "assistant", "content": raw},
            {"role": "user", "content": f"That reply was invalid ({error}). Reply again with"
             " the JSON object only, exactly in the shape asked for."},
        ]
    return Extraction(None, calls, tokens, error, raw)
