"""A conversation's blocks: whole turns, cut at size limits, time gaps and topic drops."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ingest.base import parse_time

TIME_GAP = 30 * 60  # seconds of silence that close a block (once it is a third full)
TOPIC_WINDOW = 3  # turns each side compared for a topic drop (TextTiling-style depth)


def message_time(message: dict[str, Any]) -> float | None:
    """A message's `timestamp` (ISO 8601 or epoch) as epoch seconds, or None."""
    value = message.get("timestamp")
    return None if value is None else parse_time(value).timestamp()


def turns_of(messages: list[dict[str, Any]], start: int = 0) -> list[list[int]]:
    """Message indices from `start` grouped into turns: a user message opens one; tool results
    stay with the assistant message whose calls they answer, so a call and its result never
    part."""
    turns: list[list[int]] = []
    for i in range(start, len(messages)):
        role = messages[i]["role"]
        joins = role in ("tool", "function") or (
            role == "assistant" and turns and messages[turns[-1][0]]["role"] != "system"
        )
        if turns and joins:
            turns[-1].append(i)
        else:
            turns.append([i])
    return turns


def segment(
    messages: list[dict[str, Any]], turns: list[list[int]], costs: list[int],
    depth: np.ndarray, target: int,
) -> list[list[int]]:
    """Blocks of whole turns, cut at `target` tokens, before a turn would take a block past
    twice that, and, once a block holds a third of it, at a time gap or a topic drop."""
    cut_at = float(np.mean(depth) + np.std(depth)) if len(depth) else math.inf
    blocks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for n, turn in enumerate(turns):
        turn_cost = sum(costs[i] for i in turn)
        if current:
            a, b = message_time(messages[current[-1]]), message_time(messages[turn[0]])
            gap = a is not None and b is not None and b - a >= TIME_GAP
            topic = depth[n - 1] >= cut_at and depth[n - 1] > 0
            soft = size >= target // 3 and (gap or topic)
            if soft or size >= target or size + turn_cost > 2 * target:
                blocks.append(current)
                current, size = [], 0
        current = current + turn
        size += turn_cost
    if current:
        blocks.append(current)
    return blocks


def topic_depth(vectors: np.ndarray) -> np.ndarray:
    """For each gap between turns, how far the similarity of the windows either side dips
    below the peaks around it (TextTiling's depth score, Hearst 1997)."""
    count = len(vectors)
    if count < 2:
        return np.zeros(0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    sims = np.empty(count - 1)
    for g in range(count - 1):
        left = unit[max(0, g + 1 - TOPIC_WINDOW) : g + 1].mean(axis=0)
        right = unit[g + 1 : g + 1 + TOPIC_WINDOW].mean(axis=0)
        denom = float(np.linalg.norm(left) * np.linalg.norm(right)) or 1.0
        sims[g] = float(left @ right) / denom
    peak_left = np.maximum.accumulate(sims)
    peak_right = np.maximum.accumulate(sims[::-1])[::-1]
    return (peak_left - sims) + (peak_right - sims)
