"""Compact, cited plain text of search hits, context packs and expansions, for agents."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..context.render import render_markdown
from ..errors import QueryError
from ..types import ContextPack, Expansion, Hit, IngestReport, Memory, Record

if TYPE_CHECKING:
    from ..memory import DistillReport

PREVIEW_CHARS = 600
_AGO = re.compile(r"(\d+)\s*([hdw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""


def parse_when(value: str | None, name: str) -> datetime | None:
    """An ISO date or time (naive means UTC), or a span ago such as 7d, 24h, 2w."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if match := _AGO.fullmatch(text):
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise QueryError(
            f"{name} {value!r} is not a date", hint="use 2026-03-02, 2026-03-02T10:00 or 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def label(record: Record) -> str:
    """`record:ID · 2026-03-02 10:04 · #session · actor · namespace`, empty parts left out."""
    parts = [
        f"record:{record.id}",
        when(record.occurred_at),
        f"#{record.session_id}" if record.session_id else "",
        record.actor or "",
        record.namespace,
    ]
    return " · ".join(p for p in parts if p)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def hits_text(query: str, hits: Sequence[Hit], scope: str | None) -> str:
    where = f" in {scope}" if scope else ""
    if not hits:
        return f'No records match "{query}"{where}. Try other words, or a wider namespace or time.'
    lines = [f'{len(hits)} hits for "{query}"{where}, best first:']
    for rank, hit in enumerate(hits, start=1):
        found = ", ".join(f"{name} #{h.rank}" for name, h in hit.why.items())
        lines.append(f"[{rank}] {label(hit.record)} · score {hit.score:.3g} ({found})")
        lines.append(preview(hit.record.text))
    lines.append("expand(handle) shows a record's full text and its neighbours in the session.")
    return "\n".join(lines)


def pack_text(pack: ContextPack, scope: str | None) -> str:
    if not pack.fragments:
        where = f" in {scope}" if scope else ""
        return f'Nothing{where} matches "{pack.query}". Try other words or a wider namespace.'
    count = len(pack.fragments)
    footer = (
        f"({count} fragment{'s' if count != 1 else ''}, {pack.tokens}/{pack.budget_tokens}"
        f" tokens. Cite fragments by their record: handle; expand(handle) shows the evidence.)"
    )
    return f"{render_markdown(pack)}\n\n{footer}"


def expansion_text(expansion: Expansion) -> str:
    focus = set(expansion.focus)
    lines = [
        f"{expansion.handle}: {len(expansion.records)} records in order;"
        " lines marked > are the ones the handle names."
    ]
    for record in expansion.records:
        mark = ">" if record.id in focus else " "
        seq = f"[{record.seq}] " if record.seq is not None else ""
        lines.append(f"{mark} {seq}{label(record)}")
        lines.extend(f"{mark}   {line}" for line in record.text.splitlines() or [""])
    return "\n".join(lines)


def remembered_text(report: IngestReport, namespace: str) -> str:
    if report.added:
        return f"Remembered as record:{report.record_ids[0]} in {namespace}."
    if report.duplicates:
        return f"Already remembered in {namespace}: an identical record exists; nothing added."
    reasons = "; ".join(p.reason for p in report.problems) or "unknown reason"
    return f"Not remembered: {reasons}."


def memories_text(memories: Sequence[Memory], scope: str | None, as_of: datetime | None) -> str:
    where = f" in {scope}" if scope else ""
    when_ = f" as of {when(as_of)}" if as_of else ""
    if not memories:
        return (
            f"No memories{where}{when_}. `distill` makes them from the records (needs a write "
            "key); `search` finds the records themselves."
        )
    count = f"{len(memories)} memor{'ies' if len(memories) != 1 else 'y'}"
    lines = [f"{count}{where}{when_}, newest first:"]
    for memory in memories:
        start = when(memory.valid_from)[:10] or "…"
        end = when(memory.valid_to)[:10] if memory.valid_to else "now"
        gone = f" · superseded by memory:{memory.superseded_by}" if memory.superseded_by else ""
        lines.append(
            f"memory:{memory.id} · {memory.kind} · {start} → {end} · {memory.namespace}"
            f" · {len(memory.evidence)} evidence{gone}"
        )
        lines.append(preview(memory.text))
    lines.append("expand(memory:ID) shows the records a memory was distilled from.")
    return "\n".join(lines)


def distilled_text(report: DistillReport, scope: str | None) -> str:
    made = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in report.made.items())
    where = f" in {scope}" if scope else ""
    text = (
        f"Distilled {report.records} new records in {report.sessions} sessions{where}:"
        f" {made or 'nothing new'}. Superseded {report.superseded}, merged {report.merged};"
        f" method {report.method}; {report.llm_calls} LLM calls, {report.tokens} tokens,"
        f" {report.seconds:.2f}s."
    )
    if report.failures:
        text += f" {report.failures} batches failed validation and were recorded for a retry."
    return text
