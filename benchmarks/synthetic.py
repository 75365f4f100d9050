"""Synthetic but word-realistic chat records and clustered unit vectors for the speed benchmarks."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from lore.index.embed.base import Embedder
from lore.index.embed.onnx_minilm import VOCAB_PATH
from lore.search.query import STOPWORDS
from lore.types import Draft

DIM = 384
VOCAB_SIZE = 5_000
ZIPF_EXPONENT = 1.07  # English word frequencies (Piantadosi 2014, doi:10.3758/s13423-014-0585-6)
NAMESPACES = {"acme/eng": 0.4, "acme/sales": 0.3, "acme/support": 0.2, "acme/legal": 0.1}
ACTORS = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe",
    "assistant", "support-bot", "planner", "reviewer",
]
SESSION_TURNS = 20
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _vocabulary(size: int) -> list[str]:
    """Whole English words from the MiniLM WordPiece vocabulary, which lists them by frequency."""
    words: list[str] = []
    for line in VOCAB_PATH.read_text(encoding="utf-8").splitlines()[1996:]:
        if line.isascii() and line.isalpha():
            words.append(line)
            if len(words) == size:
                break
    return words


class TextSource:
    """Sentences of Zipf-distributed words over a vocabulary of a few thousand real words."""

    def __init__(self, seed: int = 0, vocab_size: int = VOCAB_SIZE) -> None:
        self.words = np.array(_vocabulary(vocab_size), dtype=object)
        weights = 1.0 / np.arange(1, len(self.words) + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(weights / weights.sum())
        self.rng = np.random.default_rng(seed)

    def sentences(self, n: int, shortest: int = 6, longest: int = 30) -> list[str]:
        lengths = self.rng.integers(shortest, longest + 1, n)
        picks = np.searchsorted(self.cdf, self.rng.random(int(lengths.sum())))
        words = self.words[np.minimum(picks, len(self.words) - 1)]
        out, at = [], 0
        for length in lengths.tolist():
            text = " ".join(words[at : at + length])
            out.append(text[0].upper() + text[1:] + ".")
            at += length
        return out

    def queries(self, n: int, stopwords_only: bool = False) -> list[str]:
        """Chat-style questions: a stock opening and two to five content words, Zipf-drawn.

        With `stopwords_only`, two to four stop words (the worst case for full-text search).
        """
        stop = np.array([w in STOPWORDS for w in self.words])
        pool = np.flatnonzero(stop if stopwords_only else ~stop)
        weights = 1.0 / (pool + 1.0) ** ZIPF_EXPONENT
        weights /= weights.sum()
        openings = ["what about", "when did we talk about", "", "how is the", "why was the"]
        out = []
        for _ in range(n):
            count = int(self.rng.integers(2, 5 if stopwords_only else 6))
            words = self.words[self.rng.choice(pool, count, replace=False, p=weights)]
            opening = "" if stopwords_only else openings[int(self.rng.integers(len(openings)))]
            out.append(" ".join([opening, *words]).strip())
        return out


class VectorSource:
    """Unit vectors around 128 topics x 8 subtopics, roughly how sentence embeddings cluster."""

    def __init__(self, seed: int = 0, dim: int = DIM) -> None:
        rng = np.random.default_rng(seed)
        topics = rng.standard_normal((128, 1, dim))
        subtopics = rng.standard_normal((128, 8, dim))
        topics /= np.linalg.norm(topics, axis=2, keepdims=True)
        subtopics /= np.linalg.norm(subtopics, axis=2, keepdims=True)
        centers = (topics + 0.5 * subtopics).reshape(-1, dim)
        self.centers = (centers / np.linalg.norm(centers, axis=1, keepdims=True)).astype(np.float32)
        self.dim = dim
        self.rng = np.random.default_rng(seed + 1)

    def sample(self, n: int) -> np.ndarray:
        picks = self.rng.integers(0, len(self.centers), n)
        noise = self.rng.standard_normal((n, self.dim), dtype=np.float32) / np.sqrt(self.dim)
        points = self.centers[picks] + noise
        return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def chat_drafts(n: int, seed: int = 0, first_session: int = 0) -> list[tuple[str, Draft]]:
    """(namespace, draft) pairs: sessions of 10-40 turns between a person and an assistant."""
    text = TextSource(seed)
    rng = np.random.default_rng(seed + 2)
    names, shares = list(NAMESPACES), np.array(list(NAMESPACES.values()))
    sentences = text.sentences(n)
    out: list[tuple[str, Draft]] = []
    session = first_session
    while len(out) < n:
        namespace = names[int(rng.choice(len(names), p=shares))]
        person = ACTORS[int(rng.integers(0, 20))]
        helper = ACTORS[int(rng.integers(20, len(ACTORS)))]
        started = START + timedelta(minutes=7 * session)
        turns = int(rng.integers(SESSION_TURNS // 2, 2 * SESSION_TURNS))
        for seq in range(min(turns, n - len(out))):
            actor = person if seq % 2 == 0 else helper
            draft = Draft(
                text=sentences[len(out)],
                session_id=f"s{session:07d}",
                seq=seq,
                actor=actor,
                role="user" if seq % 2 == 0 else "assistant",
                occurred_at=started + timedelta(seconds=20 * seq),
            )
            out.append((namespace, draft))
        session += 1
    return out


class PrecomputedEmbedder(Embedder):
    """Returns precomputed vectors for known texts, so search timings exclude the model.

    It poses as MiniLM (same name and dimension), so the real model can open the same store
    for the cold-start measurement.
    """

    name = "minilm"
    dim = DIM

    def __init__(self, table: dict[str, np.ndarray] | None = None) -> None:
        self.table = dict(table or {})

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "mean_ms": round(float(values.mean()), 3),
    }


def machine() -> dict[str, Any]:
    """Platform, CPU and library versions, as every benchmark reports them."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str | None] = {}
    for package in ("lore", "numpy", "usearch", "onnxruntime"):
        try:
            versions[package] = version(package)
        except Exception:
            versions[package] = None
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        **versions,
    }


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
