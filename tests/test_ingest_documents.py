"""Markdown and text documents: heading paths, token-bounded chunks, unreadable files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import IngestError, Lore, Record
from lore.ingest import detect_format
from lore.ingest.documents import MarkdownConnector, TextConnector
from lore.tokens import count_tokens
from lore.types import Draft, IngestProblem


@pytest.fixture
def lore(tmp_path: Path) -> Iterator[Lore]:
    with Lore.open(tmp_path / "lore.db", embedder="hash") as store:
        yield store


def stored(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(record_id) for record_id in ids]


def drafts(items: Iterator[Draft | IngestProblem]) -> list[Draft]:
    out = list(items)
    assert all(isinstance(d, Draft) for d in out), out
    return out  # type: ignore[return-value]


GUIDE = """\
---
title: The guide
date: 2026-03-02
author: Maya Chen
---
# Guide

Lore keeps evidence.

## Install

Run the installer.

```sh
# not a heading: this is a shell comment

pip install lore
```

### Offline use

Everything works offline.

# Reference

Short paragraph one.
It wraps onto a second line.

Short paragraph two.
"""


def test_markdown_chunks_keep_heading_path_lines_and_front_matter(
    lore: Lore, tmp_path: Path
) -> None:
    path = tmp_path / "guide.md"
    path.write_text(GUIDE, encoding="utf-8")
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (4, 0, 0)
    records = stored(lore, report.record_ids)
    assert [r.metadata["heading_path"] for r in records] == [
        "Guide",
        "Guide > Install",
        "Guide > Install > Offline use",
        "Reference",
    ]
    assert [(r.metadata["line"], r.metadata["end_line"]) for r in records] == [
        (8, 8), (12, 18), (22, 22), (26, 29),
    ]
    assert records[0].text == "Guide\n\nLore keeps evidence."
    assert records[1].text == (
        "Guide > Install\n\nRun the installer.\n\n"
        "```sh\n# not a heading: this is a shell comment\n\npip install lore\n```"
    )
    # Small paragraphs under one heading merge into one chunk.
    assert records[3].text == (
        "Reference\n\nShort paragraph one.\nIt wraps onto a second line.\n\nShort paragraph two."
    )
    for seq, record in enumerate(records):
        assert (record.kind, record.session_id, record.seq) == ("document_chunk", "guide", seq)
        assert record.occurred_at == datetime(2026, 3, 2, tzinfo=UTC)
        assert record.actor == "Maya Chen"
        assert record.metadata["title"] == "The guide"
        assert record.source.connector == "markdown"


def test_chunks_respect_the_token_bound(tmp_path: Path) -> None:
    sentences = " ".join(f"Sentence number {i} talks about retries and ledgers." for i in range(60))
    paragraphs = "\n\n".join(f"Paragraph {i} is short." for i in range(40))
    path = tmp_path / "long.md"
    path.write_text(f"# Long\n\n{sentences}\n\n## Many\n\n{paragraphs}\n", encoding="utf-8")
    chunks = drafts(MarkdownConnector(max_tokens=64).parse(path))
    assert all(count_tokens(c.text) <= 64 for c in chunks)
    long_part = [c for c in chunks if c.metadata["heading_path"] == "Long"]
    many_part = [c for c in chunks if c.metadata["heading_path"] == "Long > Many"]
    # The long paragraph is split at sentence ends, and nothing is lost.
    assert len(long_part) > 1
    assert all(c.text.endswith("ledgers.") for c in long_part)
    bodies = [c.text.removeprefix("Long\n\n") for c in long_part]
    assert " ".join(bodies) == sentences
    # Forty tiny paragraphs are merged into a few chunks, in order.
    assert 1 < len(many_part) < 40
    merged = "\n\n".join(c.text.removeprefix("Long > Many\n\n") for c in many_part)
    assert merged == paragraphs
    assert [c.seq for c in chunks] == list(range(len(chunks)))


def test_a_run_without_sentence_breaks_is_hard_cut(tmp_path: Path) -> None:
    blob = "x" * 5000
    path = tmp_path / "blob.txt"
    path.write_text(blob, encoding="utf-8")
    chunks = drafts(TextConnector(max_tokens=50).parse(path))
    assert len(chunks) > 1
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    assert "".join(c.text for c in chunks) == blob


def test_text_files_split_at_blank_lines_and_ignore_hashes(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("# not a heading\nfirst para\n\n\nsecond para\n", encoding="utf-8")
    report = lore.ingest(path)
    (record,) = stored(lore, report.record_ids)
    assert record.text == "# not a heading\nfirst para\n\nsecond para"
    assert (record.metadata["line"], record.metadata["end_line"]) == (1, 5)
    assert "heading_path" not in record.metadata
    assert record.source.connector == "text"
    assert record.occurred_at is None


def test_detection_by_extension_and_text_fallback(tmp_path: Path) -> None:
    cases = {"a.md": "markdown", "b.markdown": "markdown", "c.txt": "text", "d.log": "text"}
    for name, expected in cases.items():
        path = tmp_path / name
        path.write_text("# Title\n\nsome words\n", encoding="utf-8")
        assert detect_format(path) == expected, name
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(IngestError, match="cannot tell the format"):
        detect_format(binary)


def test_binary_and_undecodable_files_are_one_clear_problem(lore: Lore, tmp_path: Path) -> None:
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    report = lore.ingest(binary)
    assert (report.added, report.duplicates, report.failed) == (0, 0, 1)
    assert report.problems[0].file == str(binary)
    assert "binary" in report.problems[0].reason

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("line one\nline two\ncaf\xe9 au lait\n".encode("latin-1"))
    report = lore.ingest(latin1, format="text")
    assert (report.added, report.duplicates, report.failed) == (0, 0, 1)
    (problem,) = report.problems
    assert (problem.file, problem.line) == (str(latin1), 3)
    assert problem.reason == "not UTF-8 text: byte 0xe9 at offset 21"


def test_utf16_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes("Ünïcode notes\r\n\r\nsecond".encode("utf-16"))
    chunks = drafts(TextConnector().parse(path))
    assert [c.text for c in chunks] == ["Ünïcode notes\n\nsecond"]


def test_truncated_and_bad_front_matter_still_land(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "draft.md"
    path.write_text(
        "---\ntitle: Draft\ndate: sometime in spring\n---\n# Notes\n\nkept\n\n```\nunclosed fence",
        encoding="utf-8",
    )
    report = lore.ingest(path)
    assert (report.added, report.duplicates, report.failed) == (1, 0, 1)
    (problem,) = report.problems
    assert (problem.file, problem.line) == (str(path), 3)
    assert problem.reason.startswith("front matter: ignored bad date")
    (record,) = stored(lore, report.record_ids)
    assert record.text == "Notes\n\nkept\n\n```\nunclosed fence"
    assert record.occurred_at is None


def test_empty_document_adds_nothing_and_reingest_is_idempotent(
    lore: Lore, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("\n\n   \n", encoding="utf-8")
    report = lore.ingest(empty)
    assert (report.added, report.duplicates, report.failed) == (0, 0, 0)
    guide = tmp_path / "guide.md"
    guide.write_text(GUIDE, encoding="utf-8")
    assert lore.ingest(guide).added == 4
    again = lore.ingest(guide)
    assert (again.added, again.duplicates, again.failed) == (0, 4, 0)


def test_heading_path_is_searchable(lore: Lore, tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text(GUIDE, encoding="utf-8")
    lore.ingest(guide)
    hits = lore.search("offline use", kinds=["document_chunk"], k=3)
    assert hits[0].record.metadata["heading_path"] == "Guide > Install > Offline use"
