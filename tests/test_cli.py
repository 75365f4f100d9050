"""The `lore` command line, run with click's CliRunner against real SQLite files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from lore.cli import cli
from lore.tokens import count_tokens

CHAT = [
    {
        "session": "payments",
        "actor": "alice",
        "text": "The payments webhook retried twice overnight.",
        "timestamp": "2026-03-02T10:04:00Z",
    },
    {
        "session": "payments",
        "actor": "bob",
        "text": "Stripe timed out waiting for our 200 response.",
        "timestamp": "2026-03-02T10:05:00Z",
    },
    {
        "session": "payments",
        "actor": "alice",
        "text": "Let's make the handler idempotent.",
        "timestamp": "2026-03-02T10:06:00Z",
    },
    {
        "session": "lunch",
        "actor": "carol",
        "text": "Pizza on Friday?",
        "timestamp": "2026-03-03T12:00:00Z",
    },
]


def _jsonl(path: Path, rows: list[dict[str, Any]], extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra, encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "lore.db"


def run(db: Path, *args: str, input: str | None = None, embedder: str | None = "hash") -> Result:
    options = ["--db", str(db)] + (["--embedder", embedder] if embedder else [])
    return CliRunner().invoke(cli, [*options, *args], input=input)


def as_json(result: Result) -> Any:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return json.loads(result.stdout)


@pytest.fixture
def filled(db: Path, tmp_path: Path) -> Path:
    result = run(db, "ingest", str(_jsonl(tmp_path / "chat.jsonl", CHAT)), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return db


def _assert_one_line_error(result: Result, code: int, *, hint: bool) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert len(lines) == (2 if hint else 1) and (not hint or lines[1].startswith("hint: "))
    assert "Traceback" not in result.output


def test_init(db: Path) -> None:
    first = as_json(run(db, "init", "--json"))
    assert first == {"path": str(db), "created": True, "embedder": "hash:256:v2", "records": 0}
    assert db.exists()
    assert as_json(run(db, "init", "--json"))["created"] is False
    assert "exists" in run(db, "init").stdout


def test_ingest_reports_counts_problems_and_exit_code(db: Path, tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "chat.jsonl", CHAT, extra="{not json\n")
    result = run(db, "ingest", str(path), "--format", "jsonl")
    assert result.exit_code == 1
    assert "added 4 · skipped 0 as duplicate · failed 1" in result.stdout
    assert f"{path}:5: invalid JSON" in result.stderr

    again = run(db, "ingest", str(path), "--format", "jsonl", "--json")
    assert again.exit_code == 1
    data = as_json(again)
    assert (data["added"], data["duplicates"], data["failed"]) == (0, 4, 1)
    assert data["problems"][0]["file"] == str(path) and data["problems"][0]["line"] == 5


def test_ingest_walks_directories(db: Path, tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    _jsonl(root / "chat" / "a.jsonl", CHAT[:2])
    _jsonl(root / "chat" / "deep" / "b.jsonl", CHAT[2:])
    _jsonl(root / ".hidden" / "c.jsonl", [{"text": "never read"}])
    (root / "logo.bin").write_bytes(b"\x00\x01binary")
    result = run(db, "ingest", str(root), "--namespace", "acme/eng", "--json")
    assert result.exit_code == 0, result.output
    data = as_json(result)
    assert data["added"] == 4 and data["failed"] == 0
    assert sorted(Path(f["path"]).name for f in data["files"]) == ["a.jsonl", "b.jsonl"]
    assert data["unsupported"] == [str(root / "logo.bin")]
    assert as_json(run(db, "stats", "--json"))["namespaces"] == {"acme/eng": 4}


def test_add_and_stdin(db: Path) -> None:
    data = as_json(run(db, "add", "deploy freeze starts Friday", "--actor", "dana", "--json"))
    assert data["added"] == 1 and len(data["record_ids"]) == 1
    assert (
        as_json(run(db, "add", "deploy freeze starts Friday", "--actor", "dana", "--json"))[
            "duplicates"
        ]
        == 1
    )
    piped = run(db, "add", "-", "--session", "ops", "--kind", "event", input="from stdin\n")
    assert piped.exit_code == 0 and piped.stdout.startswith("added record:")
    stats = as_json(run(db, "stats", "--json"))
    assert stats["records"] == 2 and stats["kinds"] == {"message": 1, "event": 1}
    empty = run(db, "add", "-", input="  \n")
    assert empty.exit_code == 2


def test_search(filled: Path) -> None:
    data = as_json(run(filled, "search", "webhook retried", "-k", "2", "--json"))
    assert data["query"]["k"] == 2 and len(data["hits"]) == 2
    assert data["hits"][0]["record"]["text"].startswith("The payments webhook")
    assert set(data["hits"][0]["why"]) <= {"fts", "vector", "session", "time"}

    human = run(filled, "search", "webhook retried", "--mode", "fts")
    assert human.exit_code == 0 and "why: fts #1" in human.stdout

    scoped = as_json(
        run(filled, "search", "Friday pizza", "--actor", "carol", "--since", "2026-03-03", "--json")
    )
    assert [h["record"]["actor"] for h in scoped["hits"]] == ["carol"]
    none = as_json(
        run(filled, "search", "pizza", "--until", "2026-03-01", "--session", "lunch", "--json")
    )
    assert none["hits"] == []


def test_context_markdown_and_json(filled: Path) -> None:
    result = run(filled, "context", "why did the webhook retry", "--budget", "300")
    assert result.exit_code == 0
    assert result.stdout.startswith("[1] 2026-03-02 10:04 · #payments")
    assert "record:" in result.stdout and "tokens" in result.stderr
    assert count_tokens(result.stdout.rstrip("\n")) <= 300

    for args in (["--json"], ["--format", "json"]):
        pack = as_json(
            run(filled, "context", "webhook", "--budget", "120", "--encoding", "o200k_base", *args)
        )
        assert (
            pack["budget_tokens"] == 120
            and pack["tokens"] <= 120
            and pack["encoding"] == "o200k_base"
        )
    tiny = as_json(run(filled, "context", "webhook", "--budget", "5", "--json"))
    assert tiny["fragments"] == [] and tiny["tokens"] == 0


def test_expand(filled: Path) -> None:
    pack = as_json(run(filled, "context", "webhook stripe idempotent", "--budget", "500", "--json"))
    handle = pack["fragments"][0]["id"]
    data = as_json(run(filled, "expand", handle, "--window", "1", "--json"))
    assert (
        data["handle"] == handle and data["focus"] == pack["fragments"][0]["citation"]["record_ids"]
    )
    human = run(filled, "expand", handle)
    assert human.exit_code == 0 and "> " in human.stdout and "#payments" in human.stdout


def test_stats(filled: Path) -> None:
    data = as_json(run(filled, "stats", "--json"))
    assert data["records"] == 4 and data["sessions"] == 2 and data["embedder"] == "hash:256:v2"
    assert "records    4" in run(filled, "stats").stdout
    assert data["memories"] == {} and data["distill_failures"] == 0


def test_stats_counts_memories(filled: Path) -> None:
    assert run(filled, "distill").exit_code == 0
    data = as_json(run(filled, "stats", "--json"))
    assert data["memories"].get("episode", 0) >= 1 and data["distill_failures"] == 0
    human = run(filled, "stats").stdout
    assert f"memories   {sum(data['memories'].values())}" in human
    assert "memories by kind:" in human and "failures   0" in human


def test_one_line_errors(filled: Path, tmp_path: Path) -> None:
    _assert_one_line_error(run(filled, "expand", "not-a-handle"), 2, hint=True)
    _assert_one_line_error(run(filled, "expand", "record:01NOPE", "--json"), 1, hint=True)
    _assert_one_line_error(run(tmp_path / "missing.db", "search", "x"), 2, hint=True)
    _assert_one_line_error(
        run(filled, "stats", embedder="hash:64"), 2, hint=True
    )  # embedder mismatch
    _assert_one_line_error(run(filled, "search", "x", "--namespace", "bad ns"), 2, hint=True)
    _assert_one_line_error(
        run(filled, "search", "x", "--since", "2026-03-02", "--until", "2026-03-01"), 2, hint=False
    )
    _assert_one_line_error(run(filled, "ingest", str(tmp_path), "--namespace", "/x"), 2, hint=True)


def test_usage_errors_exit_2(filled: Path) -> None:
    assert run(filled, "search", "x", "--since", "yesterday").exit_code == 2
    assert run(filled, "context", "x", "--budget", "0").exit_code == 2
    assert run(filled, "ingest", "/no/such/path").exit_code == 2


def test_default_db_from_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    result = CliRunner().invoke(
        cli, ["--embedder", "hash", "init", "--json"], env={"LORE_DB": str(db)}
    )
    assert json.loads(result.stdout)["path"] == str(db) and db.exists()


LOCOMO = [
    {
        "sample_id": "conv-1",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Ben",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a dog named Rex."},
                {
                    "speaker": "Ben",
                    "dia_id": "D1:2",
                    "text": "Lovely! I started learning the cello.",
                },
            ],
            "session_2_date_time": "2:00 pm on 9 May, 2023",
            "session_2": [
                {"speaker": "Ann", "dia_id": "D2:1", "text": "Rex chewed my shoes today."}
            ],
        },
        "qa": [
            {
                "question": "What is the name of Ann's dog?",
                "answer": "Rex",
                "evidence": ["D1:1"],
                "category": 4,
            },
            {
                "question": "What instrument does Ben play?",
                "answer": "cello",
                "evidence": ["D1:2"],
                "category": 4,
            },
        ],
    }
]


def test_eval_locomo_in_a_temporary_store(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(LOCOMO), encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["--embedder", "hash", "eval", "locomo", str(path), "--json"],
        env={"LORE_DB": str(tmp_path / "mine.db")},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["questions"] == 2
    assert not (tmp_path / "mine.db").exists()  # LORE_DB is not --db: the user's store is untouched
    table = CliRunner().invoke(cli, ["--embedder", "hash", "eval", "locomo", str(path)])
    assert table.exit_code == 0 and "questions" in table.stdout


def test_eval_scifact_into_a_given_db(db: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "scifact"
    _jsonl(
        corpus / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Aspirin", "text": "Aspirin reduces the risk of heart attack."},
            {"_id": "d2", "title": "Coffee", "text": "Coffee consumption and sleep quality."},
        ],
    )
    _jsonl(corpus / "queries.jsonl", [{"_id": "q1", "text": "aspirin heart attack risk"}])
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    result = run(db, "eval", "scifact", str(corpus), "--qrels", str(qrels), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["queries"] == 1 and data["ndcg@10"] > 0
    assert as_json(run(db, "stats", "--json"))["records"] == 2


def test_eval_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--embedder", "hash", "eval", "locomo", str(bad)])
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in result.output


def test_python_dash_m_lore() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lore", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage: lore" in out.stdout


def test_end_to_end_with_the_default_embedder(db: Path, tmp_path: Path) -> None:
    assert as_json(run(db, "init", "--json", embedder=None))["embedder"].startswith("minilm")
    path = _jsonl(tmp_path / "chat.jsonl", CHAT)
    assert as_json(run(db, "ingest", str(path), "--json", embedder=None))["added"] == 4
    hits = as_json(run(db, "search", "why was the callback sent again?", "--json", embedder=None))[
        "hits"
    ]
    assert "vector" in hits[0]["why"]
    top = {h["record"]["session_id"] for h in hits[:2]}
    assert top == {"payments"}
    pack = as_json(
        run(
            db,
            "context",
            "why was the callback sent again?",
            "--budget",
            "200",
            "--json",
            embedder=None,
        )
    )
    assert (
        0 < pack["tokens"] <= 200 and pack["fragments"][0]["citation"]["session_id"] == "payments"
    )
    expanded = as_json(run(db, "expand", pack["fragments"][0]["id"], "--json", embedder=None))
    assert len(expanded["records"]) == 3  # the payments session, whole
