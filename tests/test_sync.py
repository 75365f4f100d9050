"""Incremental sync: cursors, resuming grown files, watching, and edits or removals in search."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lore import Lore
from lore.cli import cli
from lore.ingest.sync import SyncReport


def line(**item: object) -> str:
    return json.dumps(item) + "\n"


def visible(lore: Lore, text: str) -> set[str]:
    """Texts every search mode returns for `text` (all hits, not only the top few)."""
    return {
        h.record.text for mode in ("fts", "vector", "hybrid")
        for h in lore.search(text, k=100, mode=mode)
    }


def test_an_unchanged_source_is_skipped_and_reports_the_same(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(line(text="one") + "{oops\n" + line(text="two"), encoding="utf-8")
    first = lore.ingest(path)
    again = lore.ingest(path)
    assert (first.added, first.duplicates, first.failed) == (2, 0, 1)
    assert (again.added, again.duplicates, again.failed) == (0, 2, 1)
    assert [s.status for s in (*first.sources, *again.sources)] == ["new", "unchanged"]
    assert again.unchanged == 1 and again.problems == first.problems
    assert lore.ingest(path, full=True).sources[0].status == "changed"  # read again on request


def test_a_grown_log_is_read_from_where_it_stopped(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "team.jsonl"
    padding = "x" * 5000  # more than the window checked before the offset
    path.write_text(
        line(channel="ops", text=f"first {padding}") + line(channel="ops", text="second")
        + line(channel="dev", text="third"),
        encoding="utf-8",
    )
    first = lore.ingest(path)
    assert first.added == 3
    cursor = lore.store.get_cursor("default", str(path))
    assert cursor is not None and cursor.offset == path.stat().st_size and cursor.line == 3
    # Rewriting the start (outside the checked window) is not seen: only the new bytes are read.
    data = path.read_bytes().replace(b"first", b"FIRST", 1)
    path.write_bytes(data + line(channel="ops", text="fourth").encode() + b"\n" + b"{broken\n")
    grown = lore.ingest(path)
    assert grown.sources[0].status == "appended"
    assert (grown.added, grown.duplicates, grown.failed) == (1, 3, 1)
    assert grown.problems[0].line == 6  # line numbers continue
    fourth = lore.get(grown.record_ids[0])
    assert (fourth.session_id, fourth.seq, fourth.metadata["line"]) == ("ops", 2, 4)
    assert fourth.source.source_id == "line:4"
    assert not any(h.record.text.startswith("FIRST") for h in lore.search("FIRST", k=10))
    assert lore.ingest(path).sources[0].status == "unchanged"
    assert lore.ingest(path).failed == 1  # its problem is still reported


def test_a_rewritten_or_truncated_log_is_read_again(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(line(text="alpha") + line(text="beta"), encoding="utf-8")
    lore.ingest(path)
    path.write_text(line(text="gamma"), encoding="utf-8")
    again = lore.ingest(path)
    assert again.sources[0].status == "changed"
    assert (again.added, again.duplicates) == (1, 0)


def test_the_detected_format_sticks_as_a_file_grows(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(line(role="user", content="Is payments-api up?"), encoding="utf-8")
    assert lore.ingest(path).sources[0].format == "jsonl"
    call = {"id": "c1", "function": {"name": "health", "arguments": "{}"}}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line(role="assistant", content="checking", tool_calls=[call]))
    grown = lore.ingest(path)  # the head now looks like an agent log; the source stays jsonl
    source = grown.sources[0]
    assert (source.format, source.status, grown.added) == ("jsonl", "appended", 1)


def test_watch_reads_new_and_grown_files_and_waits_for_whole_lines(
    lore: Lore, tmp_path: Path
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "agent.jsonl"
    log.write_text(line(text="started") + '{"text": "half wr', encoding="utf-8")
    seen: list[list[tuple[str, str, int]]] = []

    def step(cycle: int, report: SyncReport) -> None:
        seen.append([(Path(s.uri).name, s.status, s.report.added) for s in report.sources])
        if cycle == 0:
            with log.open("a", encoding="utf-8") as handle:
                handle.write('itten"}\n')
            (folder / "notes.md").write_text("# Notes\n\nThe deploy is on Friday.\n")
        elif cycle == 2:
            with log.open("a", encoding="utf-8") as handle:
                handle.write(line(text="finished"))

    total = lore.watch([folder], interval=0, cycles=4, on_cycle=step)
    assert seen == [
        [("agent.jsonl", "new", 1)],
        [("agent.jsonl", "appended", 1), ("notes.md", "new", 1)],
        [("agent.jsonl", "unchanged", 0), ("notes.md", "unchanged", 0)],
        [("agent.jsonl", "appended", 1), ("notes.md", "unchanged", 0)],
    ]
    assert (total.added, total.failed) == (4, 0)
    texts = {h.record.text for h in lore.search("half written finished started", k=10)}
    assert {"started", "half written", "finished"} <= texts


def test_an_unterminated_last_line_is_read_once_the_file_settles(
    lore: Lore, tmp_path: Path
) -> None:
    log = tmp_path / "agent.jsonl"
    log.write_text(line(text="one") + line(text="two").rstrip("\n"), encoding="utf-8")
    added: list[int] = []
    lore.watch([log], interval=0, cycles=2, on_cycle=lambda _, r: added.append(r.added))
    assert added == [1, 1]  # the second line waits one poll: it might still be being written


def test_watch_stops_when_asked(lore: Lore, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(line(text="hello"), encoding="utf-8")
    stop = threading.Event()
    cycles: list[int] = []

    def step(cycle: int, report: SyncReport) -> None:
        cycles.append(cycle)
        if cycle == 1:
            stop.set()

    report = lore.watch([path], interval=0.01, stop=stop, on_cycle=step)
    assert cycles == [0, 1] and report.added == 1


def test_an_edited_document_replaces_its_stale_chunks(lore: Lore, tmp_path: Path) -> None:
    doc = tmp_path / "runbook.md"
    old = "# Runbook\n\n## Deploys\n\nDeploys happen on Tuesdays after standup.\n"
    new = "# Runbook\n\n## Deploys\n\nDeploys happen on Thursdays after the freeze review.\n"
    doc.write_text(old, encoding="utf-8")
    lore.ingest(doc)
    doc.write_text(new, encoding="utf-8")
    edited = lore.ingest(doc)
    assert (edited.sources[0].status, edited.added, edited.hidden) == ("changed", 1, 1)
    assert not any("Tuesdays" in t for t in visible(lore, "when do deploys happen Tuesdays"))
    assert any("Thursdays" in t for t in visible(lore, "when do deploys happen"))
    doc.write_text(old, encoding="utf-8")  # reverted: the first version is current again
    reverted = lore.ingest(doc)
    assert (reverted.added, reverted.duplicates) == (0, 1)
    texts = visible(lore, "when do deploys happen Tuesdays Thursdays")
    assert any("Tuesdays" in t for t in texts) and not any("Thursdays" in t for t in texts)


@pytest.mark.parametrize("index", ["exact", "usearch"])
def test_a_removed_file_leaves_search_and_a_tombstone_says_so(
    tmp_path: Path, index: str
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "keep.md").write_text("# Keep\n\nThe staging cluster is in eu-west.\n")
    gone = folder / "gone.md"
    gone.write_text("# Old\n\nThe legacy billing cron runs at midnight.\n")
    with Lore.open(tmp_path / "lore.db", embedder="hash", vector_index=index) as lore:
        lore.ingest(folder)
        assert any("legacy billing" in t for t in visible(lore, "legacy billing cron"))
    gone.unlink()
    with Lore.open(tmp_path / "lore.db", embedder="hash", vector_index=index) as lore:
        report = lore.ingest(folder)
        removed = [s for s in report.sources if s.status == "removed"]
        assert [(Path(s.uri).name, s.hidden) for s in removed] == [("gone.md", 1)]
        assert not any("legacy billing" in t for t in visible(lore, "legacy billing cron"))
        assert "gone.md was removed from" in " ".join(visible(lore, "gone removed"))
        assert lore.stats()["hidden"] == 1
    with Lore.open(tmp_path / "lore.db", embedder="hash", vector_index=index) as lore:
        assert not any("legacy billing" in t for t in visible(lore, "legacy billing cron"))
        gone.write_text("# Old\n\nThe legacy billing cron runs at midnight.\n")
        back = lore.ingest(folder)
        assert [s.status for s in back.sources] == ["new", "unchanged"]
        assert any("legacy billing" in t for t in visible(lore, "legacy billing cron"))


def test_the_cli_reports_unchanged_sources(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(line(text="deploy on friday") + line(text="ok"), encoding="utf-8")
    db = tmp_path / "lore.db"

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--db", str(db), "--embedder", "hash", *args])

    assert "added 2" in run("ingest", str(path)).stdout
    again = run("ingest", str(path))
    assert again.exit_code == 0 and "(1 unchanged)" in again.stdout
    data = json.loads(run("ingest", str(path), "--json").stdout)
    assert data["files"][0]["status"] == "unchanged" and data["unchanged"] == 1
    assert json.loads(run("ingest", str(path), "--full", "--json").stdout)["files"][0][
        "status"
    ] == "changed"
