"""Redaction before storage: placeholders in stored records, the audit, stability, the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lore import ConfigError, Lore
from lore.cli import cli

SECRET = "ghp_I58sH508b7i6T7PqqJiI0RfMXHt6OGIa2XdU"
EMAIL = "priya.raman@northwind-logistics.com"


def chat(path: Path, lines: list[str], session: str = "s1") -> Path:
    rows = [
        {"session": session, "actor": "ana", "text": text, "timestamp": f"2024-05-01T10:0{i}:00Z"}
        for i, text in enumerate(lines)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def texts(lore: Lore) -> list[str]:
    return [r[0] for r in lore.store.db.execute("SELECT text FROM records ORDER BY rowid")]


def test_jsonl_and_markdown_go_through_redaction(tmp_path: Path, lore: Lore) -> None:
    lore.ingest(chat(tmp_path / "c.jsonl", [f"write to {EMAIL} about it"]))
    doc = tmp_path / "guide.md"
    doc.write_text(f"# Contacts\n\nAsk {EMAIL} for access.\n")
    lore.ingest(doc)
    stored = texts(lore)
    assert stored[0] == "write to [EMAIL_1] about it"
    assert "[EMAIL_1]" in stored[1] and EMAIL not in " ".join(stored)


def test_transcripts_and_text_go_through_redaction(tmp_path: Path, lore: Lore) -> None:
    vtt = tmp_path / "call.vtt"
    vtt.write_text(f"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Ana>Mail {EMAIL} today\n")
    text = tmp_path / "notes.txt"
    text.write_text(f"Escalate to {EMAIL}.\n")
    lore.ingest(vtt)
    lore.ingest(text)
    stored = texts(lore)
    assert len(stored) == 2 and all("[EMAIL_1]" in t for t in stored)
    assert EMAIL not in " ".join(stored)


def test_audit_has_kinds_and_offsets_never_values(lore: Lore) -> None:
    lore.add(f"key {SECRET} and mail {EMAIL}", metadata={"subject": f"from {EMAIL}"})
    (row,) = lore.store.db.execute("SELECT id FROM records").fetchall()
    record = lore.get(row[0])
    assert record.text == "key [API_KEY_1] and mail [EMAIL_1]"
    assert record.metadata["subject"] == "from [EMAIL_1]"
    for entry in record.redactions:
        assert SECRET not in json.dumps(entry) and EMAIL not in json.dumps(entry)
        if "field" not in entry:
            assert record.text[entry["start"] : entry["end"]] == entry["placeholder"]
    assert [e["kind"] for e in record.redactions] == ["api_key", "email", "email"]
    assert record.redactions[2]["field"] == "metadata.subject"


def test_raw_values_never_reach_the_file(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    source = chat(tmp_path / "c.jsonl", [
        f"token {SECRET} leaked, mail {EMAIL}",
        "card 4111 1111 1111 1111 and IBAN GB29 NWBK 6016 1331 9268 19",
        "my salary is 145k and I want a raise",
    ])
    with Lore.open(db, embedder="hash") as lore:
        report = lore.ingest(source)
        assert report.added == 3
        data = db.read_bytes() + (tmp_path / "lore.db-wal").read_bytes()
    for raw in (SECRET, EMAIL, "4111 1111 1111 1111", "GB29 NWBK", "145k"):
        assert raw.encode() not in data, raw
    assert b"[API_KEY_1]" in data and b"[REDACTED: hr/compensation]" in data


def test_placeholders_are_stable_across_batches_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    with Lore.open(db, embedder="hash") as lore:
        lore.add(f"first {EMAIL}")
        lore.add("then bob@acme.io")
        lore.add(f"again {EMAIL}", namespace="other")
    with Lore.open(db, embedder="hash") as lore:
        lore.add(f"later {EMAIL.upper()} and bob@acme.io")
        assert texts(lore) == [
            "first [EMAIL_1]", "then [EMAIL_2]", "again [EMAIL_1]",
            "later [EMAIL_1] and [EMAIL_2]",
        ]
        rows = lore.store.db.execute("SELECT * FROM redaction_placeholders").fetchall()
        assert len(rows) == 3 and all(EMAIL not in str(r) for r in rows)
        assert lore.store.get_meta("redaction_secret")


def test_reingest_adds_nothing(tmp_path: Path, lore: Lore) -> None:
    source = chat(tmp_path / "c.jsonl", [f"mail {EMAIL}", "call +44 20 7946 0958"])
    assert lore.ingest(source).added == 2
    again = lore.ingest(source, full=True)
    assert again.added == 0 and again.duplicates == 2


def test_redaction_off_and_custom_policy(tmp_path: Path) -> None:
    with Lore.open(tmp_path / "raw.db", embedder="hash", redaction=None) as lore:
        lore.add(f"mail {EMAIL}")
        assert texts(lore) == [f"mail {EMAIL}"]
    policy = tmp_path / "policy.toml"
    policy.write_text('[topics]\naction = "drop"\n[placeholders]\nformat = "<{kind}#{n}>"\n')
    with Lore.open(tmp_path / "p.db", embedder="hash", redaction=policy) as lore:
        lore.add("my salary is too low")
        lore.add(f"mail {EMAIL}")
        assert texts(lore) == ["mail <email#1>"]
        assert lore.redactor is not None and lore.redactor.stats["dropped"] == 1


def test_environment_names_the_default_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[personal]\ndetectors = ["phone"]\n')
    monkeypatch.setenv("LORE_REDACTION_POLICY", str(policy))
    with Lore.open(tmp_path / "e.db", embedder="hash") as lore:
        lore.add(f"mail {EMAIL}")
        assert texts(lore) == [f"mail {EMAIL}"]


@pytest.mark.parametrize(("content", "words"), [
    ("[secrets]\nentropy_min_lenght = 3\n", ["secrets.entropy_min_lenght", "unknown key"]),
    ("[personal]\ndetectors = 'email'\n", ["personal.detectors", "list of strings"]),
    ("[personal]\ndetectors = ['emial']\n", ["personal.detectors", "'emial'"]),
    ("[[secrets.patterns]]\nname='x'\nkind='api_key'\npattern='(['\n",
     ["secrets.patterns[0].pattern", "invalid regular expression"]),
    ("[topics]\naction = 'shred'\n", ["topics.action", "'shred'"]),
    ("[placeholders]\nformat = '[{KIND}]'\n", ["placeholders.format", "{n}"]),
    ("inherit = false\n", ["placeholders", "missing table"]),
    ("[topics\n", ["not valid TOML"]),
])
def test_bad_policy_names_file_and_key(tmp_path: Path, content: str, words: list[str]) -> None:
    policy = tmp_path / "bad.toml"
    policy.write_text(content)
    with pytest.raises(ConfigError) as error:
        Lore.open(tmp_path / "x.db", embedder="hash", redaction=policy)
    assert str(policy) in str(error.value)
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "x.db").exists()


def test_cli_dry_run_writes_nothing_and_masks(tmp_path: Path) -> None:
    db = tmp_path / "lore.db"
    source = chat(tmp_path / "c.jsonl", [f"key {SECRET}", f"mail {EMAIL}", "my salary review"])
    result = CliRunner().invoke(cli, ["--db", str(db), "redact", "--dry-run", str(source)])
    assert result.exit_code == 0, result.output
    assert "ghp_…[40 chars]" in result.stdout and "[API_KEY_1]" in result.stdout
    assert SECRET not in result.output and EMAIL not in result.output
    assert f"{source}:3  masked whole record: hr/compensation" in result.stdout
    assert not db.exists()
    data = json.loads(
        CliRunner().invoke(cli, ["redact", "--dry-run", "--json", str(source)]).stdout
    )
    assert [f["kind"] for f in data["findings"]] == ["api_key", "email"]
    assert data["findings"][0]["line"] == 1 and SECRET not in json.dumps(data)


def test_cli_ingest_policy_options(tmp_path: Path) -> None:
    source = chat(tmp_path / "c.jsonl", [f"mail {EMAIL}"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[fields]\nactr = true\n")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--db", str(tmp_path / "a.db"), "--embedder", "hash", "ingest", "--policy",
              str(bad), str(source)],
    )
    assert result.exit_code == 2 and "fields.actr" in result.stderr and str(bad) in result.stderr
    result = runner.invoke(
        cli, ["--db", str(tmp_path / "b.db"), "--embedder", "hash", "ingest", "--no-redact",
              str(source)],
    )
    assert result.exit_code == 0, result.output
    stored = sqlite3.connect(tmp_path / "b.db").execute("SELECT text FROM records").fetchall()
    assert stored == [(f"mail {EMAIL}",)]
    result = runner.invoke(
        cli, ["--db", str(tmp_path / "c.db"), "--embedder", "hash", "ingest", str(source)],
    )
    assert "redacted 1 value (email 1)" in result.stderr
    stored = sqlite3.connect(tmp_path / "c.db").execute("SELECT text FROM records").fetchall()
    assert stored == [("mail [EMAIL_1]",)]
