"""Evaluation harness: loaders, official metrics, and that only question text reaches the engine."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_data

from lore import Lore
from lore.evals import locomo, longmemeval, scifact
from lore.evals.metrics import ndcg_at, recall_all_at, recall_at


def test_evidence_ids_are_normalised() -> None:
    assert locomo.parse_evidence(["D8:6; D9:17"]) == {"D8:6", "D9:17"}
    assert locomo.parse_evidence(["D:11:26", "D30:05"]) == {"D11:26", "D30:5"}
    assert locomo.parse_evidence(["", "nonsense"]) == set()


def test_metrics_on_known_rankings() -> None:
    ranked = ["a", "b", "a", "c", "d"]
    assert recall_at(ranked, {"c", "z"}, 3) == 0.5  # distinct items: a, b, c
    assert recall_at(ranked, {"c"}, 2) == 0.0
    assert recall_all_at(ranked, {"a", "c"}, 3) == 1.0
    assert recall_all_at(ranked, {"a", "d"}, 3) == 0.0
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ndcg_at(ranked, {"b": 1.0, "x": 1.0}, 10) == pytest.approx(expected)


def _tiny_locomo(path: Path) -> Path:
    data = [
        {
            "sample_id": "conv-x",
            "conversation": {
                "speaker_a": "Ann",
                "speaker_b": "Bo",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a kitten named Miso."},
                    {
                        "speaker": "Bo",
                        "dia_id": "D1:2",
                        "text": "Lovely! What colour is she?",
                        "blip_caption": "a photo of a grey kitten",
                    },
                ],
                "session_2_date_time": "9:00 am on 9 June, 2023",
                "session_2": [
                    {
                        "speaker": "Bo",
                        "dia_id": "D2:1",
                        "text": "My marathon training starts Monday.",
                    },
                    {"speaker": "Ann", "dia_id": "D2:2", "text": "Good luck with the running!"},
                ],
            },
            "qa": [
                {
                    "question": "What is the name of Ann's kitten?",
                    "answer": "Miso",
                    "evidence": ["D1:1"],
                    "category": 4,
                },
                {
                    "question": "What is Bo training for?",
                    "answer": "a marathon",
                    "evidence": ["D2:1"],
                    "category": 4,
                },
                {"question": "No evidence here", "answer": "x", "evidence": [], "category": 3},
            ],
        }
    ]
    path.write_text(json.dumps(data))
    return path


def test_locomo_report_and_only_questions_reach_the_engine(
    lore: Lore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _tiny_locomo(tmp_path / "locomo.json")
    seen: list[tuple[str, dict[str, Any]]] = []
    original = lore.search

    def spy(query: Any, k: int = 10, **kwargs: Any) -> Any:
        seen.append((query, kwargs))
        return original(query, k, **kwargs)

    monkeypatch.setattr(lore, "search", spy)
    report = locomo.evaluate(lore, path)
    assert [q for q, _ in seen] == ["What is the name of Ann's kitten?", "What is Bo training for?"]
    assert all(kw["namespace"] == "locomo/conv-x" for _, kw in seen)
    assert (report["conversations"], report["questions"], report["skipped"]) == (1, 2, 1)
    assert report["turn"]["recall@1"] == 1.0
    assert report["session"]["recall@1"] == 1.0
    assert set(report["turn"]) == {
        "recall@1",
        "recall@5",
        "recall@10",
        "recall@25",
        "recall@50",
        "ndcg@10",
    }
    assert report["by_category"] == {"4": {"questions": 2, "recall@5": 1.0, "recall@10": 1.0}}


def test_locomo_ingest_shapes_records(lore: Lore, tmp_path: Path) -> None:
    path = _tiny_locomo(tmp_path / "locomo.json")
    report = lore.ingest(path)  # format detected
    assert (report.added, report.failed) == (4, 0)
    hit = lore.search("grey kitten photo", k=1, namespace="default/conv-x")[0]
    assert hit.record.text == "Lovely! What colour is she? [image: a photo of a grey kitten]"
    assert hit.record.actor == "Bo"
    assert hit.record.occurred_at is not None and hit.record.occurred_at.isoformat().startswith(
        "2023-05-08T13:56"
    )


def test_locomo_dev_split_with_hash_embedder(tmp_path: Path) -> None:
    path = shared_data("locomo/locomo_dev.json")
    with Lore.open(tmp_path / "lore.db", embedder="hash") as lore:
        report = locomo.evaluate(lore, path, mode="fts")
    assert (report["conversations"], report["questions"], report["skipped"]) == (5, 997, 2)
    # Full text with neighbouring turns alone clears the published BM25 figure (about 0.585).
    assert report["turn"]["recall@10"] > 0.7


def test_scifact_on_a_tiny_beir_folder(lore: Lore, tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    docs = [
        {
            "_id": "d1",
            "title": "Aspirin and stroke",
            "text": "Aspirin lowers stroke risk in adults.",
        },
        {"_id": "d2", "title": "Coffee", "text": "Coffee intake and sleep quality."},
    ]
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "aspirin reduces stroke"})
    )
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    report = scifact.evaluate(lore, tmp_path, tmp_path / "qrels" / "train.tsv")
    assert (report["queries"], report["ndcg@10"], report["recall@100"]) == (1, 1.0, 1.0)


def test_longmemeval_loader_and_metrics(lore: Lore) -> None:
    path = shared_data("longmemeval/longmemeval_s_derivative_3haystacks.json")
    items = longmemeval.load(path)
    assert sum(len(longmemeval.questions(item)) for item in items) == 26
    report = longmemeval.evaluate(lore, path)
    assert report["haystacks"] == 3 and report["questions"] == 26
    assert 0.5 < report["session"]["recall_all@10"] <= 1.0
    assert report["session"]["ndcg_any@5"] <= 1.0
    stored = lore.store.db.execute("SELECT DISTINCT role FROM records").fetchall()
    assert stored == [("user",)]  # keys come from user turns only


def test_longmemeval_official_layout_and_abstention() -> None:
    item = {
        "question_id": "q1_abs",
        "question_type": "single-session-user",
        "question": "Where?",
        "answer_session_ids": ["s1"],
    }
    (question,) = longmemeval.questions(item)
    assert question.abstention and question.answer_sessions == frozenset({"s1"})
    assert (
        longmemeval.parse_date("2023/05/20 (Sat) 02:21").isoformat() == "2023-05-20T02:21:00+00:00"
    )
