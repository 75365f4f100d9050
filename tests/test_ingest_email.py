"""Email: mbox and .eml folders, threads as sessions, quotes and signatures kept out of the text."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore import Lore, Record
from lore.ingest import detect_format
from lore.ingest.email import split_body

DATA = Path(__file__).parent / "data" / "email"
ROOT = "20260302091400.maya@northwind.example"


def records(lore: Lore, ids: tuple[str, ...]) -> list[Record]:
    return [lore.get(i) for i in ids]


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[Lore]:
    """A store without redaction, to see addresses and message ids as the connector wrote them."""
    with Lore.open(tmp_path / "raw.db", embedder="hash", redaction=None) as store:
        yield store


def test_an_mbox_becomes_threads_without_quotes_or_signatures(raw: Lore) -> None:
    lore = raw
    path = DATA / "payments-thread.mbox"
    assert detect_format(path) == "email"
    report = lore.ingest(path)
    assert (report.added, report.failed) == (4, 0), report.problems
    maya, tomas, priya, aisha = records(lore, report.record_ids)
    assert {maya.session_id, tomas.session_id, priya.session_id} == {ROOT}
    assert aisha.session_id == "20260303080500.aisha@northwind.example"
    assert maya.text.startswith("Double charges on card network timeouts\n\nTeam,")  # subject
    assert maya.text.endswith("Can someone look at the retry path today?")
    assert maya.metadata["signature"].startswith("Thanks,\nMaya\nMaya Chen · Engineering Manager")
    assert maya.occurred_at == datetime(2026, 3, 2, 9, 14, tzinfo=UTC)
    assert (tomas.actor, tomas.metadata["from"]) == ("Tomás Silva", "tomas.silva@northwind.example")
    assert "From the logs: 14 affected payments" in tomas.text  # mboxrd ">From" unquoted
    assert "Support has three tickets" not in tomas.text and "wrote:" not in tomas.text
    assert tomas.metadata["quoted_lines"] == 5 and tomas.metadata["signature"] == "Cheers,\nTomás"
    assert priya.text == "I'll refund the 14 payments this afternoon and reply to the tickets."
    assert priya.metadata["cc"] == ["maya.chen@northwind.example"]
    assert priya.metadata["in_reply_to"] == "20260302110200.tomas@northwind.example"
    assert "staging cluster access request" in aisha.text and "<b>" not in aisha.text
    assert aisha.metadata["attachments"] == ["access-form.pdf"]
    assert [r.metadata["line"] for r in (maya, tomas, priya, aisha)] == [1, 26, 54, 82]
    assert maya.source.source_id == ROOT and maya.seq is not None and maya.seq < tomas.seq
    hits = lore.search("refund this afternoon", sessions=[ROOT], k=1)
    assert hits[0].record.actor == "Priya Raman"


def test_threads_survive_redaction_of_addresses(lore: Lore) -> None:
    report = lore.ingest(DATA / "payments-thread.mbox")  # the default policy redacts addresses
    maya, tomas, priya, _ = records(lore, report.record_ids)
    assert {maya.session_id, tomas.session_id, priya.session_id} == {ROOT}
    assert "@northwind.example" not in str(tomas.metadata.get("from"))


def test_an_eml_folder_is_one_source_with_threads_from_in_reply_to(lore: Lore) -> None:
    folder = DATA / "inbox"
    assert detect_format(folder) == "email"
    report = lore.ingest(folder)
    assert (report.added, report.failed, len(report.sources)) == (3, 0, 1)
    release, question, answer = records(lore, report.record_ids)
    assert {r.session_id for r in (release, question, answer)} == {"release-215@northwind.example"}
    assert release.metadata["signature"] == "Best regards,\nJonas Weber\nRelease manager"
    assert release.metadata["file"] == "01-release.eml"
    assert question.text == "Does the refund export include partial refunds?"
    assert answer.text == "Yes, partial refunds are one row each, with the original charge id."
    assert answer.metadata["signature"] == "Jonas"
    assert lore.ingest(folder).sources[0].status == "unchanged"


def test_split_body_keeps_forwards_and_plain_text() -> None:
    text, signature, quoted = split_body("Just text.\nNo sign-off here.")
    assert (text, signature, quoted) == ("Just text.\nNo sign-off here.", "", 0)
    body = "See below.\n\n---------- Forwarded message ---------\nFrom: a@b.c\n\nForwarded."
    assert split_body(body)[0] == body  # forwarded content is not quoted history
    original = "Ok.\n\n-----Original Message-----\nFrom: x\nOld text"
    assert split_body(original) == ("Ok.", "", 3)


def test_bad_messages_are_reported_and_the_rest_lands(lore: Lore, tmp_path: Path) -> None:
    good = (DATA / "payments-thread.mbox").read_bytes()
    cut = good[: good.index(b"From priya.raman")]  # the first two messages only
    data = (
        cut
        + b"From nobody Mon Mar  2 12:00:00 2026\nthis is not a header block at all\n\n"
        + b"From x Mon Mar  2 12:30:00 2026\nFrom: Ops <ops@northwind.example>\n"
        + b"Date: someday soon\nMessage-ID: <bad-date@x>\nSubject: pager\n\n"
        + b"Pager rotation changed.\n\n"
        + b"From y Mon Mar  2 13:00:00 2026\nFrom: Ops <ops@northwind.example>\n"
        + b"Message-ID: <empty@x>\nSubject: empty\n\n\n"
        + b"From z Mon Mar  2 13:30:00 2026\nFrom: Dev <dev@northwind.example>\n"
        + b"Date: Mon, 02 Mar 2026 13:30:00 +0000\nSubject: truncat"
    )
    broken = tmp_path / "broken.mbox"
    broken.write_bytes(data)

    def line_of(marker: bytes) -> int:
        return data[: data.index(marker)].count(b"\n") + 1

    report = lore.ingest(broken)
    reasons = {p.line: p.reason for p in report.problems}
    assert reasons[line_of(b"From nobody")].startswith("message 3: not an email (no From header)")
    assert reasons[line_of(b"From x")] == "message 4: ignored bad Date 'someday soon'"
    assert reasons[line_of(b"From y")] == "message 5: no text in the body"
    assert reasons[line_of(b"From z")] == "message 6: no text in the body"
    assert len(reasons) == 4 and {p.file for p in report.problems} == {str(broken)}
    texts = [r.text for r in records(lore, report.record_ids)]
    assert len(texts) == 3 and texts[2] == "pager\n\nPager rotation changed."  # lands, undated
    assert lore.get(report.record_ids[2]).occurred_at is None


def test_wrong_files_are_one_clear_problem(lore: Lore, tmp_path: Path) -> None:
    fake = tmp_path / "archive.mbox"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    report = lore.ingest(fake)
    assert (report.added, report.failed) == (0, 1)
    assert report.problems[0].reason == "not an mbox file: expected a 'From ' line first"
    folder = tmp_path / "mail"
    shutil.copytree(DATA / "inbox", folder)
    (folder / "04-garbage.eml").write_bytes(b"\x00\x01\x02 not an email")
    report = lore.ingest(folder)
    assert (report.added, report.failed) == (3, 1)
    assert report.problems[0].file == str(folder / "04-garbage.eml")
    assert "not an email" in report.problems[0].reason
