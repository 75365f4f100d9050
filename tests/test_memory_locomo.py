"""`lore eval locomo --memories`: distil after ingest, memory hits expanded to evidence turns."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lore import Lore
from lore.evals import locomo


def _data(path: Path) -> Path:
    turns = [
        ("Ann", "D1:1", "I live in Paris, right by the canal."),
        ("Bo", "D1:2", "We decided to run the marathon together next spring."),
        ("Ann", "D1:3", "Great, and the weather was lovely today."),
    ]
    data = [{
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann", "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [{"speaker": s, "dia_id": d, "text": t} for s, d, t in turns],
        },
        "qa": [
            {"question": "Where does Ann live?", "answer": "Paris", "evidence": ["D1:1"],
             "category": 4},
            {"question": "What did they decide to run?", "answer": "a marathon",
             "evidence": ["D1:2"], "category": 4},
        ],
    }]
    path.write_text(json.dumps(data))
    return path


def test_with_memories_distils_and_maps_memories_to_their_turns(
    lore: Lore, tmp_path: Path
) -> None:
    path = _data(tmp_path / "locomo.json")
    plain = locomo.evaluate(lore, path)
    assert "distill" not in plain
    report = locomo.evaluate(lore, path, with_memories=True)
    assert report["distill"]["made"]["fact"] == 1 and report["distill"]["made"]["decision"] == 1
    assert report["questions"] == 2 and report["turn"]["recall@5"] == 1.0
    hits = lore.search_memories("Where does Ann live?", 3, kinds=["fact"], namespace="locomo")
    turns: dict[str, list[str]] = {}
    fused = locomo.fuse_memories(lore, ["D1:3", "D1:2"], hits, turns)
    assert fused[:3] == ["D1:3", "D1:1", "D1:2"]  # the memory's turn sits at the memory's rank
    assert turns == {hits[0].memory.id: ["D1:1"]}


def test_a_memory_hit_brings_at_most_memory_turns_of_its_evidence(
    lore: Lore, tmp_path: Path
) -> None:
    """A memory citing many turns (a long episode) takes its rank with its first few turns
    only, so it cannot push a whole session into the top ranks."""
    path = _data(tmp_path / "locomo.json")
    locomo.evaluate(lore, path, with_memories=True)
    fact = lore.search_memories("Where does Ann live?", 1, kinds=["fact"], namespace="locomo")[0]
    records = [h.record for h in lore.search("Ann Bo", k=10, namespace="locomo")]
    wide = replace(fact.memory, evidence=tuple(r.id for r in records) * 3)  # 9 citations
    hit = replace(fact, memory=wide)
    turns: dict[str, list[str]] = {}
    fused = locomo.fuse_memories(lore, ["D1:3"], [hit], turns)
    assert len(turns[wide.id]) == locomo.MEMORY_TURNS == 5
    assert set(fused) == {"D1:1", "D1:2", "D1:3"}  # each turn once, at its best place
