"""The Redactor: runs a policy's detectors and topic rules, writes placeholders, keeps the audit."""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from operator import attrgetter
from typing import Any

from ..types import Draft
from .base import Anchors, Scan, build_detectors
from .placeholders import MemoryNumbering, Numbering
from .policy import Policy
from .topics import TopicClassifier, TopicHit

# When two findings overlap the more specific kind wins (a password inside a URL is not an
# email; a JWT is not three entropy tokens; digits inside a valid IBAN are not a card that
# happens to pass Luhn; a postcode inside an address is not a phone); ties go to the longer
# span.
PRIORITY = {
    kind: rank
    for rank, kind in enumerate((
        "private_key", "jwt", "api_key", "password", "iban", "card", "email", "ssn", "nino",
        "address", "phone", "ip", "secret",
    ))
}
SECRET_KINDS = frozenset({"private_key", "jwt", "api_key", "password", "secret"})


@dataclass(frozen=True, slots=True)
class Finding:
    """A value a policy strips: its kind and where it is in the original text."""

    kind: str
    start: int
    end: int
    value: str

    @property
    def secret(self) -> bool:
        return self.kind in SECRET_KINDS


@dataclass(frozen=True, slots=True)
class Redacted:
    """Redacted text, its audit (offsets in the redacted text) and what was found."""

    text: str
    redactions: tuple[dict[str, Any], ...]
    findings: tuple[Finding, ...]
    topic: str | None = None
    dropped: bool = False


# Fast construction on the hot path: a frozen dataclass's __init__ sets each field through
# object.__setattr__, about three times slower than the slot descriptors used here.
_new = object.__new__
_SET_FINDING = tuple(Finding.__dict__[f].__set__ for f in ("kind", "start", "end", "value"))
_SET_REDACTED = tuple(
    Redacted.__dict__[f].__set__ for f in ("text", "redactions", "findings", "topic", "dropped")
)


_start = attrgetter("start")


def _overlaps(span: Finding, taken: list[Finding]) -> bool:
    return any(span.start < t.end and t.start < span.end for t in taken)


def _entry(kind: str, field: str | None, start: int, end: int, mark: str) -> dict[str, Any]:
    """One audit entry, its keys in the stored order."""
    if field is None:
        return {"kind": kind, "start": start, "end": end, "placeholder": mark}
    return {"kind": kind, "field": field, "start": start, "end": end, "placeholder": mark}


class Redactor:
    """Applies one policy; placeholder numbers come from `numbering` (in memory by default)."""

    def __init__(self, policy: Policy, numbering: Numbering | None = None) -> None:
        self.policy = policy
        self.numbering: Numbering = numbering if numbering is not None else MemoryNumbering()
        self.detectors = build_detectors(policy)
        self.topics = TopicClassifier(policy)
        self.anchors = Anchors(
            [*self.topics.anchors, *(a for d in self.detectors for a in d.anchors)],
            max((d.run_length for d in self.detectors), default=0),
        )
        self.stats: Counter[str] = Counter()
        self._marks: dict[tuple[str, int], str] = {}  # (kind, number) -> placeholder
        self._topic_marks: dict[str, str] = {}  # topic label -> its placeholder

    # -- finding ----------------------------------------------------------------
    def scan_many(self, texts: list[str]) -> tuple[Scan, list[list[Finding]]]:
        """Non-overlapping findings in each text, in text order (topics not included)."""
        scan = Scan(texts, self.anchors)
        joined = scan.text
        found: list[list[Finding]] = [[] for _ in texts]
        starts, lengths, claimed = scan.starts, scan.lengths, scan.claimed
        set_kind, set_start, set_end, set_value = _SET_FINDING
        allow = self.policy.allow
        allowed: set[int] = set()  # texts with a finding whose value the policy allows
        for detector in self.detectors:
            if detector.gate and not any(g in joined for g in detector.gate):
                continue
            for start, end, kind in detector.find(scan):
                claimed.append((start, end))
                index = bisect_right(starts, start) - 1  # scan.owner(), inlined
                base = starts[index]
                if end <= base + lengths[index]:
                    a, b = start - base, end - base
                    finding = _new(Finding)  # Finding(kind, a, b, value), faster (see above)
                    set_kind(finding, kind)
                    set_start(finding, a)
                    set_end(finding, b)
                    value = texts[index][a:b]
                    set_value(finding, value)
                    found[index].append(finding)
                    if value in allow:
                        allowed.add(index)
        for index, items in enumerate(found):
            if not items:
                continue
            if len(items) < 2:
                if index in allowed:
                    found[index] = []
                continue
            items.sort(key=_start)
            if all(a.end <= b.start and a.start < b.start for a, b in pairwise(items)):
                if index in allowed:  # (nothing overlaps)
                    found[index] = [f for f in items if f.value not in allow]
                continue
            items.sort(key=lambda f: (PRIORITY.get(f.kind, 99), f.start - f.end, f.start))
            taken: list[Finding] = []
            for finding in items:
                if finding.value not in allow and not _overlaps(finding, taken):
                    taken.append(finding)
            taken.sort(key=lambda f: f.start)
            found[index] = taken
        return scan, found

    def scan(self, text: str) -> list[Finding]:
        """Non-overlapping findings in one text, in text order (topics not included)."""
        return self.scan_many([text])[1][0]

    def placeholder(self, namespace: str, kind: str, value: str) -> str:
        number = self.numbering.number(namespace, kind, value)
        mark = self._marks.get((kind, number))
        if mark is None:
            mark = self.policy.placeholder.format(KIND=kind.upper(), kind=kind, n=number)
            self._marks[(kind, number)] = mark
        return mark

    # -- redacting --------------------------------------------------------------
    def redact_many(
        self,
        texts: list[str],
        namespaces: list[str] | None = None,
        *,
        fields: list[str | None] | None = None,
        topics: list[bool] | None = None,
    ) -> list[Redacted]:
        """Each text with its findings replaced by placeholders and topics masked (or dropped).

        `namespaces` scope the placeholder numbers (default "default"); `fields` name what each
        text is in the audit (None: the record text); `topics` False skips topic rules."""
        count = len(texts)
        namespaces = namespaces or ["default"] * count
        fields = fields or [None] * count
        enabled = topics or [True] * count
        scan, found = self.scan_many(texts)
        hits = self.topics.hits_many(scan, texts, enabled)
        return self._replace_many(texts, found, hits, namespaces[:count], fields[:count])

    def redact(
        self, text: str, namespace: str = "default", *, field: str | None = None,
        topics: bool = True,
    ) -> Redacted:
        """One text redacted (see `redact_many`)."""
        return self.redact_many([text], [namespace], fields=[field], topics=[topics])[0]

    def _assemble(
        self, text: str, findings: list[Finding], hits: Sequence[TopicHit], namespace: str,
        field: str | None,
    ) -> Redacted:
        if not hits:  # findings are in text order
            if not findings:
                return Redacted(text, (), ())
            return self._replace_many([text], [findings], [()], [namespace], [field])[0]
        if any(hit.rule.action == "drop" for hit in hits):
            label = next(h.rule.label for h in hits if h.rule.action == "drop")
            return Redacted("", (), (), label, dropped=True)
        if (
            len(hits) == 1
            and hits[0].start == 0
            and hits[0].end == len(text)
            and all(f.start < f.end for f in findings)
        ):  # (the usual case: the whole text masked, every finding inside it) the same, faster
            label = hits[0].rule.label
            mark = self._topic_marks.get(label)
            if mark is None:
                mark = self._topic_marks[label] = self.policy.topic_placeholder.format(topic=label)
            masked: dict[str, Any] = {"kind": "topic", "topic": label}
            if field is not None:
                masked["field"] = field
            masked.update(start=0, end=len(mark), placeholder=mark)
            result = _new(Redacted)
            set_text, set_redactions, set_findings, set_topic, set_dropped = _SET_REDACTED
            set_text(result, mark)
            set_redactions(result, (masked,))
            set_findings(result, ())
            set_topic(result, label)
            set_dropped(result, False)
            return result
        findings = [
            f for f in findings if not any(h.start < f.end and f.start < h.end for h in hits)
        ]
        pieces: list[tuple[int, int, str, str]] = [(f.start, f.end, f.kind, "") for f in findings]
        pieces += [(h.start, h.end, "topic", h.rule.label) for h in hits]
        pieces.sort(key=lambda p: p[0])
        out: list[str] = []
        audit: list[dict[str, Any]] = []
        cursor = length = 0
        for start, end, kind, label in pieces:
            out.append(text[cursor:start])
            length += start - cursor
            entry: dict[str, Any] = {"kind": kind}
            if kind == "topic":
                mark = self.policy.topic_placeholder.format(topic=label)
                entry["topic"] = label
            else:
                mark = self.placeholder(namespace, kind, text[start:end])
            if field is not None:
                entry["field"] = field
            entry.update(start=length, end=length + len(mark), placeholder=mark)
            audit.append(entry)
            out.append(mark)
            length += len(mark)
            cursor = end
        out.append(text[cursor:])
        topic = hits[0].rule.label if hits else None
        return Redacted("".join(out), tuple(audit), tuple(findings), topic)

    def _replace_many(
        self, texts: list[str], found: list[list[Finding]], hits: list[Sequence[TopicHit]],
        namespaces: list[str], fields: list[str | None],
    ) -> list[Redacted]:
        """Each text as _assemble makes it; those without topic hits (almost all) here, in
        one loop, with the same result, faster."""
        results: list[Redacted] = []
        keep = results.append
        numbering, marks, placeholder = self.numbering, self._marks, self.policy.placeholder
        number = numbering.number
        # MemoryNumbering.number looks the value up as written first: done here, inline.
        known = numbering._raw if type(numbering) is MemoryNumbering else {}
        set_text, set_redactions, set_findings, set_topic, set_dropped = _SET_REDACTED

        def mark_of(namespace: str, kind: str, value: str) -> str:
            n = known.get((namespace, kind, value))
            if n is None:
                n = number(namespace, kind, value)
            mark = marks.get((kind, n))
            if mark is None:
                mark = marks[(kind, n)] = placeholder.format(KIND=kind.upper(), kind=kind, n=n)
            return mark

        rows = zip(texts, found, hits, namespaces, fields, strict=True)
        for text, findings, hit, namespace, field in rows:
            if hit:
                keep(self._assemble(text, findings, hit, namespace, field))
                continue
            result = _new(Redacted)
            set_topic(result, None)
            set_dropped(result, False)
            keep(result)
            if not findings:
                set_text(result, text)
                set_redactions(result, ())
                set_findings(result, ())
                continue
            if len(findings) == 1:  # (the usual case) as below, without the lists
                finding = findings[0]
                start, kind = finding.start, finding.kind
                mark = mark_of(namespace, kind, finding.value)
                set_text(result, text[:start] + mark + text[finding.end :])
                set_redactions(result, (_entry(kind, field, start, start + len(mark), mark),))
                set_findings(result, (finding,))
                continue
            out: list[str] = []
            audit: list[dict[str, Any]] = []
            add, note = out.append, audit.append
            cursor = length = 0
            for finding in findings:
                start, kind = finding.start, finding.kind
                add(text[cursor:start])
                length += start - cursor
                mark = mark_of(namespace, kind, finding.value)
                end = length + len(mark)
                note(_entry(kind, field, length, end, mark))
                add(mark)
                length = end
                cursor = finding.end
            add(text[cursor:])
            set_text(result, "".join(out))
            set_redactions(result, tuple(audit))
            set_findings(result, tuple(findings))
        return results

    def redact_fields(
        self, drafts: list[Draft], namespaces: list[str]
    ) -> list[list[tuple[str | None, Redacted]]]:
        """Each draft's text (field None), string metadata values (at any depth, except keys
        the policy keeps) and actor, redacted in one scan; the actor by detectors only."""
        texts: list[str] = []
        owners: list[int] = []
        fields: list[str | None] = []
        spaces: list[str] = []
        for index, (draft, namespace) in enumerate(zip(drafts, namespaces, strict=True)):
            items: list[tuple[str | None, str]] = [(None, draft.text)]
            if self.policy.redact_metadata:
                keep = self.policy.keep_metadata
                items += [
                    (path, text) for path, text in _strings(draft.metadata, "metadata")
                    if path is None or path.split(".")[1].split("[")[0] not in keep
                ]
            if self.policy.redact_actor and draft.actor:
                items.append(("actor", draft.actor))
            for field, text in items:
                texts.append(text)
                owners.append(index)
                fields.append(field)
                spaces.append(namespace)
        with self.numbering:
            done = self.redact_many(
                texts, spaces, fields=fields, topics=[f != "actor" for f in fields]
            )
        per_draft: list[list[tuple[str | None, Redacted]]] = [[] for _ in drafts]
        for owner, field, result in zip(owners, fields, done, strict=True):
            per_draft[owner].append((field, result))
        return per_draft

    def redact_batch(
        self, drafts: list[Draft], namespaces: list[str]
    ) -> tuple[list[Draft], list[str]]:
        """Redacted drafts (dropped ones left out) and each one's audit as JSON, for storage."""
        per_draft = self.redact_fields(drafts, namespaces)
        kept: list[Draft] = []
        audits: list[str] = []
        for draft, results in zip(drafts, per_draft, strict=True):
            if not any(r.redactions or r.dropped or r.topic for _, r in results):
                kept.append(draft)  # (most drafts: nothing found in any field)
                audits.append("[]")
                continue
            if any(r.dropped for _, r in results):
                self.stats["dropped"] += 1
                continue
            audit = [entry for _, r in results for entry in r.redactions]
            changes: dict[str, Any] = {"text": results[0][1].text}
            replaced = {f: r.text for f, r in results[1:] if r.redactions}
            if any(f != "actor" for f in replaced):
                changes["metadata"] = _replace(draft.metadata, "metadata", replaced)
            if "actor" in replaced:
                changes["actor"] = replaced["actor"]
            if results[0][1].topic is not None:
                self.stats["masked"] += 1
            for entry in audit:
                self.stats[entry["kind"]] += 1
            kept.append(replace(draft, **changes) if audit else draft)
            audits.append(json.dumps(audit, ensure_ascii=False))
        return kept, audits


def _strings(value: Any, path: str) -> list[tuple[str | None, str]]:
    """Every string inside a metadata value, with its path (metadata.a.b[2])."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _strings(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [item for i, v in enumerate(value) for item in _strings(v, f"{path}[{i}]")]
    return []


def _replace(value: Any, path: str, texts: dict[str | None, str]) -> Any:
    """`value` with the strings at the paths in `texts` replaced."""
    if isinstance(value, str):
        return texts.get(path, value)
    if isinstance(value, dict):
        return {k: _replace(v, f"{path}.{k}", texts) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(v, f"{path}[{i}]", texts) for i, v in enumerate(value)]
    return value


def mask(value: str, secret: bool) -> str:
    """A preview that never shows a secret in full: a secret keeps at most 4 leading characters,
    other values their first and last character."""
    if secret:
        head = value[: min(4, len(value) // 4)]
        return f"{head}…[{len(value)} chars]"
    if len(value) <= 4:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]
