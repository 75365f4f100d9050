"""Dry runs: what a policy would strip from files read by the connectors; nothing is stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from ..ingest.base import get_connector
from ..ingest.sync import plan_sources
from ..types import Draft, IngestProblem
from .redactor import Redacted, Redactor, mask

BATCH = 256


@dataclass(frozen=True, slots=True)
class Preview:
    """One thing a policy strips: where (file, line, field), what kind, and a masked preview."""

    file: str
    line: int | None
    place: str
    field: str
    kind: str
    preview: str
    placeholder: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "line": self.line, "place": self.place, "field": self.field,
            "kind": self.kind, "preview": self.preview, "placeholder": self.placeholder,
        }


@dataclass
class PreviewReport:
    """Everything a dry run found, the redacted records, counts and unreadable items."""

    findings: list[Preview] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[IngestProblem] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    files: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "files": self.files, "record_count": len(self.records), "counts": dict(self.counts),
            "problems": [
                {"file": p.file, "line": p.line, "reason": p.reason} for p in self.problems
            ],
            "unsupported": self.unsupported,
        }


def _line(draft: Draft, field: str | None, offset: int, text: str) -> int | None:
    """The source line of an offset in a draft's text, when the connector gave a line."""
    line = draft.metadata.get("line") if isinstance(draft.metadata, dict) else None
    if not isinstance(line, int):
        return None
    return line + (text.count("\n", 0, offset) if field is None else 0)


def preview(
    paths: Iterable[Path], redactor: Redactor, fmt: str = "auto", namespace: str = "default"
) -> PreviewReport:
    """Read `paths` with their connectors, planned as `lore ingest` plans them (a folder a
    connector reads whole is one source, others are walked), and report what `redactor`
    would strip from every record; nothing is written anywhere."""
    report = PreviewReport()
    planned, report.unsupported, report.problems = plan_sources(paths, fmt)
    for file, name in planned:
        report.files += 1
        items = iter(get_connector(name).parse(file))
        index = 0
        while batch := list(islice(items, BATCH)):
            drafts = [d for d in batch if isinstance(d, Draft)]
            report.problems += [p for p in batch if isinstance(p, IngestProblem)]
            spaces = [f"{namespace}/{d.namespace}" if d.namespace else namespace for d in drafts]
            for draft, fields in zip(drafts, redactor.redact_fields(drafts, spaces), strict=True):
                _record(report, str(file), index, draft, fields)
                index += 1
    return report


def _record(
    report: PreviewReport, file: str, index: int, draft: Draft,
    fields: list[tuple[str | None, Redacted]],
) -> None:
    place = draft.source_id or (f"seq {draft.seq}" if draft.seq is not None else f"#{index}")
    text = fields[0][1]
    first_line = _line(draft, None, 0, draft.text)
    status = "dropped" if any(r.dropped for _, r in fields) else (
        "masked" if text.topic is not None else "kept"
    )
    report.records.append({
        "file": file, "line": first_line, "place": place, "status": status,
        "topic": text.topic, "text": "" if status == "dropped" else text.text,
    })
    if status != "kept":
        report.counts[f"topic:{text.topic or next(r.topic for _, r in fields if r.dropped)}"] += 1
        report.counts[status] += 1
    for field_name, result in fields:
        source = draft.text if field_name is None else None
        marks = [e for e in result.redactions if e["kind"] != "topic"]
        for finding, entry in zip(result.findings, marks, strict=True):
            line = _line(draft, field_name, finding.start, source or "")
            report.findings.append(Preview(
                file, line, place, field_name or "text", finding.kind,
                mask(finding.value, finding.secret), entry["placeholder"],
            ))
            report.counts[finding.kind] += 1
