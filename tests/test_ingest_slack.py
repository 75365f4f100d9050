"""Slack exports: channels as sessions, names resolved, threads, edits, deletions, bad input."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

from lore import Lore, Record
from lore.ingest import detect_format

EXPORT = Path(__file__).parent / "data" / "slack" / "export"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


def copy_export(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXPORT, tmp_path / "export"))


def write_day(folder: Path, messages: list[Any]) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text(json.dumps(messages, indent=2), encoding="utf-8")


def visible(lore: Lore, text: str, **filters: Any) -> set[str]:
    """Ids every search mode returns for `text` (all of them, not only the top few)."""
    found: set[str] = set()
    for mode in ("fts", "vector", "hybrid"):
        found |= {h.record.id for h in lore.search(text, k=100, mode=mode, **filters)}
    return found


def test_export_folder_lands_with_channels_users_and_threads(lore: Lore) -> None:
    assert detect_format(EXPORT) == "slack"
    report = lore.ingest(EXPORT, namespace="acme")
    assert (report.added, report.failed) == (10, 0), report.problems
    by_text = {r.text.split("\n")[0]: r for r in records(lore, report.record_ids)}
    welcome = by_text[next(t for t in by_text if t.startswith("Morning all"))]
    assert welcome.session_id == "general" and welcome.actor == "Maya Chen"
    assert "welcome @Aisha O., who joins" in welcome.text and "@Tomás Silva is your" in welcome.text
    assert welcome.source.connector == "slack" and welcome.source.uri == str(EXPORT.resolve())
    assert welcome.source.source_id == "C01GENERAL:1772442060.000200"
    assert welcome.metadata["file"] == "general/2026-03-02.json" and welcome.metadata["line"] == 9
    reply = next(r for r in by_text.values() if r.text.startswith("Found it"))
    assert reply.metadata["thread"] == "C02PAYMENTS:1772445600.000100"
    assert "&" in reply.text and "&amp;" not in reply.text
    freeze = next(r for r in by_text.values() if r.text.startswith("Thanks @Tomás Silva"))
    assert "@here" in freeze.text and freeze.text.endswith("[file: retry trace]")
    link = next(r for r in by_text.values() if r.text.startswith("Welcome Aisha"))
    assert "here (https://wiki.northwind.example/onboarding)" in link.text
    join = next(r for r in by_text.values() if "joined" in r.text)
    assert join.kind == "event" and join.actor == "Aisha O."
    bot = next(r for r in by_text.values() if r.actor == "deploybot")
    assert bot.text == "[attachment: payments-api v2.14.0 deployed to staging]"
    dm = [r for r in by_text.values() if r.session_id.startswith("dm: ")]
    assert {r.session_id for r in dm} == {"dm: Maya Chen, Tomás Silva"} and len(dm) == 2
    payments = lore.search("double-charging retry worker", sessions=["payments"], k=3)
    assert payments[0].record.actor == "Priya Raman"
    assert welcome.seq == 1772442060_000200  # the message time in microseconds: stable order


def test_a_zip_of_the_export_reads_the_same(lore: Lore, tmp_path: Path) -> None:
    archive = Path(shutil.make_archive(str(tmp_path / "slack"), "zip", EXPORT.parent, "export"))
    assert detect_format(archive) == "slack"
    report = lore.ingest(archive)
    assert (report.added, report.failed) == (10, 0)
    record = lore.get(report.record_ids[0])
    assert record.source.uri == str(archive)
    assert record.metadata["file"] == "D0DM1/2026-03-02.json"
    assert (lore.ingest(archive).added, lore.ingest(archive, full=True).added) == (0, 0)


def test_an_edit_in_a_later_export_supersedes_the_original(lore: Lore, tmp_path: Path) -> None:
    export = copy_export(tmp_path)
    first = lore.ingest(export)
    original = next(r for r in records(lore, first.record_ids) if r.text.startswith("Heads up"))
    assert original.id in visible(lore, "retry worker double-charging")
    day = export / "payments" / "2026-03-02.json"
    messages = json.loads(day.read_text())
    messages[0]["text"] = "Heads up: the retry worker double-charges on card network timeouts."
    messages[0]["edited"] = {"user": "U03PRIYA", "ts": "1772445700.000000"}
    write_day(day, messages)
    second = lore.ingest(export)
    assert (second.added, second.failed, second.hidden) == (1, 0, 1)
    edited = lore.get(second.record_ids[0])
    assert edited.metadata["edited_from"] == original.source.source_id
    assert edited.metadata["edited_at"].startswith("2026-03-02T10:01:40")
    hits = visible(lore, "retry worker double-charges")
    assert edited.id in hits and original.id not in hits
    assert original.id not in visible(lore, "retry worker", sessions=["payments"])
    assert lore.get(original.id).text.startswith("Heads up: the retry worker is")  # still stored
    assert lore.stats()["hidden"] == 1
    pack = lore.context("retry worker double-charges timeouts", 2000)
    assert "Heads up: the retry worker is double-charging" not in pack.render()
    around = lore.expand(f"record:{edited.id}", window=5).records
    assert edited.id in {r.id for r in around} and original.id not in {r.id for r in around}


def test_a_deletion_is_a_tombstone_that_hides_the_message(lore: Lore, tmp_path: Path) -> None:
    export = copy_export(tmp_path)
    first = lore.ingest(export)
    postmortem = next(r for r in records(lore, first.record_ids) if r.text.startswith("Postmortem"))
    write_day(export / "payments" / "2026-03-04.json", [{
        "type": "message", "subtype": "message_deleted", "hidden": True,
        "deleted_ts": "1772532000.000100", "ts": "1772600000.000001",
        "previous_message": {"type": "message", "user": "U01MAYA", "ts": "1772532000.000100"},
    }])
    second = lore.ingest(export)
    assert (second.added, second.failed, second.hidden) == (1, 0, 1)
    tombstone = lore.get(second.record_ids[0])
    assert tombstone.kind == "event" and tombstone.actor == "Maya Chen"
    assert tombstone.metadata["tombstone_of"] == postmortem.source.source_id
    assert postmortem.id not in visible(lore, "Postmortem double-charge incident Thursday")
    assert tombstone.id in visible(lore, "deleted a message payments")
    # The original arriving again (an older export) stays hidden: the tombstone still holds.
    again = lore.ingest(export, full=True)
    assert again.added == 0 and postmortem.id not in visible(lore, "Postmortem Thursday")


def test_a_slack_tombstone_subtype_and_a_message_changed_event(lore: Lore, tmp_path: Path) -> None:
    export = copy_export(tmp_path)
    lore.ingest(export)
    write_day(export / "general" / "2026-03-05.json", [
        {"type": "message", "subtype": "message_changed", "hidden": True, "ts": "1772700000.000001",
         "message": {"type": "message", "user": "U02TOMAS", "ts": "1772442120.000300",
                     "text": "Welcome Aisha! The onboarding doc moved to the handbook.",
                     "edited": {"user": "U02TOMAS", "ts": "1772700000.000000"}},
         "previous_message": {"type": "message", "user": "U02TOMAS", "ts": "1772442120.000300"}},
        {"type": "message", "subtype": "tombstone", "user": "USLACKBOT", "hidden": True,
         "text": "This message was deleted.", "ts": "1772442060.000200"},
    ])
    report = lore.ingest(export)
    assert (report.added, report.failed, report.hidden) == (2, 0, 2)
    assert not {lore.get(i).text for i in visible(lore, "onboarding doc is here wiki")} & {
        "Welcome Aisha! :tada: The onboarding doc is here (https://wiki.northwind.example/onboarding)."
    }
    texts = {h.record.text for h in lore.search("Welcome Aisha onboarding", k=20)}
    assert "Welcome Aisha! The onboarding doc moved to the handbook." in texts
    assert not any(t.startswith(("Welcome Aisha! :tada:", "Morning all")) for t in texts)


def test_bad_files_and_messages_are_reported_and_the_rest_lands(lore: Lore, tmp_path: Path) -> None:
    export = copy_export(tmp_path)
    (export / "users.json").write_text('[{"id": "U01MAYA", "real_name": "Maya', encoding="utf-8")
    (export / "general" / "2026-03-04.json").write_text(
        '[\n  {"type": "message", "user": "U01MAYA", "text": "cut off', encoding="utf-8"
    )
    (export / "general" / "2026-03-05.json").write_bytes(b'[{"text": "caf\xe9"}]')
    (export / "general" / "2026-03-06.json").write_text('{"ts": "1.0"}', encoding="utf-8")
    write_day(export / "payments" / "2026-03-07.json", [
        {"type": "message", "user": "U01MAYA", "text": "no timestamp"},
        {"type": "message", "user": "U01MAYA", "text": 42, "ts": "1772900000.000100"},
        "not an object",
        {"type": "message", "user": "U01MAYA", "text": "bad ts", "ts": "yesterday"},
        {"type": "message", "user": "U02TOMAS", "text": "still lands", "ts": "1772900100.000100"},
    ])
    report = lore.ingest(export)
    assert (report.added, report.failed) == (11, 8), report.problems
    by_file = {(Path(p.file).name, p.line): p.reason for p in report.problems}
    assert by_file[("users.json", 1)].startswith("invalid JSON at column")
    assert by_file[("2026-03-04.json", 2)].startswith("invalid JSON")
    assert by_file[("2026-03-05.json", 1)] == "not UTF-8 text: byte 0xe9"
    assert by_file[("2026-03-06.json", 1)] == "expected an array of messages, got object"
    bad = {line: reason for (name, line), reason in by_file.items() if name == "2026-03-07.json"}
    assert bad[2] == "message 1 ($[0]): no 'ts'"
    assert bad[7] == "message 2 ($[1]): 'text' must be a string, got number"
    assert bad[13] == "message 3 ($[2]): expected an object, got string"
    assert "not a Slack timestamp: 'yesterday'" in bad[14]
    assert all(p.file.startswith(str(export)) for p in report.problems)
    landed = {r.text: r for r in records(lore, report.record_ids)}
    assert landed["still lands"].actor == "U02TOMAS"
    assert landed["Can you own the postmortem write-up?"].actor == "U01MAYA"  # users.json broken


def test_a_broken_zip_is_one_problem(lore: Lore, tmp_path: Path) -> None:
    archive = Path(shutil.make_archive(str(tmp_path / "slack"), "zip", EXPORT))
    data = archive.read_bytes()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(data[: len(data) // 2])
    report = lore.ingest(broken, format="slack")
    assert (report.added, report.failed) == (0, 1)
    assert report.problems[0].file == str(broken)
    assert report.problems[0].reason.startswith("not a readable Slack export")
    with zipfile.ZipFile(archive) as whole:
        assert "users.json" in whole.namelist()  # the un-nested layout is read too
    assert lore.ingest(archive).added == 10
