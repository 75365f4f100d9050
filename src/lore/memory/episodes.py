"""Episodes (one per session, meeting or agent run) and procedures (from successful runs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..types import Record

KEY_POINT_CHARS = 240
CUES = re.compile(
    r"\b(?:decided|decision|agreed|important|plan|goal|finally|learned|because|problem|"
    r"fixed|released|launched|deadline|moved|started|finished|excited|announce)\w*",
    re.IGNORECASE,
)
SUCCESS = re.compile(
    r"\b(?:done|success(?:ful(?:ly)?)?|succeeded|fixed|resolved|completed?|all tests pass|"
    r"tests? pass(?:ed|es)?|works now|it works|merged|deployed)\b",
    re.IGNORECASE,
)
FAILURE = re.compile(
    r"\b(?:error|traceback|exception|failed|failure|fatal|not found|denied)\b", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class EpisodeDraft:
    """What one session amounts to: who, when, and its most central turns."""

    text: str
    participants: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    evidence: tuple[str, ...]


def _short(text: str, limit: int = KEY_POINT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def key_points(records: Sequence[Record], vectors: np.ndarray, count: int) -> list[int]:
    """Indexes of the `count` most central records (cosine to the session centroid, plus a
    bonus for cue phrases), in session order: a centroid form of extractive summarisation
    (Radev et al. 2004, MEAD)."""
    usable = [i for i, r in enumerate(records) if len(r.text.split()) >= 4]
    if not usable:
        return list(range(min(count, len(records))))
    chosen = vectors[usable].astype(np.float64)
    norms = np.linalg.norm(chosen, axis=1, keepdims=True)
    chosen = chosen / np.where(norms == 0, 1.0, norms)
    centroid = chosen.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    scores = chosen @ centroid
    scores += np.array([0.1 if CUES.search(records[i].text) else 0.0 for i in usable])
    best = sorted(np.argsort(-scores, kind="stable")[:count].tolist())
    return [usable[i] for i in best]


def episode(session: str, records: Sequence[Record], vectors: np.ndarray) -> EpisodeDraft:
    """The episode of one session: time span, participants and key points."""
    participants = tuple(dict.fromkeys(r.actor for r in records if r.actor))
    times = [r.occurred_at for r in records if r.occurred_at is not None]
    start, end = (min(times), max(times)) if times else (None, None)
    count = max(1, min(5, len(records) // 8 + 1))
    points = [records[i] for i in key_points(records, vectors, count)]
    when = ""
    if start is not None and end is not None:
        when = f" on {start:%Y-%m-%d}" if start.date() == end.date() else (
            f" from {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        )
    who = ", ".join(participants) or "unknown participants"
    lines = [f"Session {session}{when}, {len(records)} turns, with {who}."]
    lines += [f"- {p.actor + ': ' if p.actor else ''}{_short(p.text)}" for p in points]
    return EpisodeDraft(
        "\n".join(lines), participants, start, end, tuple(p.id for p in points)
    )


@dataclass(frozen=True, slots=True)
class ProcedureDraft:
    """A how-to learned from an agent run that ended in success."""

    task: str
    steps: tuple[str, ...]
    tools: tuple[str, ...]
    preconditions: tuple[str, ...]
    evidence: tuple[str, ...]

    @property
    def text(self) -> str:
        lines = [f"Procedure: {self.task}"]
        if self.preconditions:
            lines.append("Preconditions: " + "; ".join(self.preconditions))
        lines += [f"{n}. {step}" for n, step in enumerate(self.steps, start=1)]
        return "\n".join(lines)


def _step(record: Record) -> str:
    tool = str(record.metadata.get("tool") or record.actor or "tool")
    args = record.metadata.get("arguments")
    shown = record.text if args is None else str(args)
    return f"{tool}({_short(shown, 80)})"


def procedure(records: Sequence[Record]) -> ProcedureDraft | None:
    """A procedure from an agent run, if it called tools and ended in success: its last
    assistant message has a success cue and no tool result after it reported an error."""
    calls = [r for r in records if r.kind == "tool_call"]
    users = [r for r in records if r.role == "user" and r.kind == "message"]
    if not calls or not users:
        return None
    said = [r for r in records if r.role == "assistant" and r.kind == "message"]
    last = said[-1] if said else None
    if last is None or not SUCCESS.search(last.text) or FAILURE.search(last.text):
        return None
    results = [r for r in records if r.kind == "tool_result"]
    final = results[-1] if results else None
    if final is not None and (final.metadata.get("is_error") or FAILURE.search(final.text[:400])):
        return None
    task = _short(users[0].text, 200)
    preconditions = tuple(
        _short(s, 120) for s in re.split(r"(?<=[.!?])\s+", users[0].text)
        if re.search(r"\b(?:requires?|needs?|must|given|assuming|make sure|first)\b", s, re.I)
    )[:3]
    steps = tuple(dict.fromkeys(_step(r) for r in calls))
    tools = tuple(str(r.metadata.get("tool") or r.actor or "tool") for r in calls)
    evidence = (users[0].id, *(r.id for r in calls), last.id)
    return ProcedureDraft(task, steps, tools, preconditions, evidence)
