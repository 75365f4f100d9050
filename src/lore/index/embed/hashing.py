"""A deterministic hashing embedder: no model, stable across runs; for tests and fallback."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from ...errors import ConfigError
from .base import Embedder

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder(Embedder):
    """Feature hashing of lower-cased words and word bigrams into `dim` signed buckets."""

    name = "hash"
    batch_size = 1024

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ConfigError(f"hash embedder dimension must be at least 8, got {dim}")
        self.dim = dim

    @classmethod
    def from_spec(cls, arg: str) -> HashEmbedder:
        try:
            return cls(int(arg))
        except ValueError:
            raise ConfigError(f"hash embedder takes a dimension, got {arg!r}") from None

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words + [a + " " + b for a, b in pairwise(words)]

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dim] += 1.0 if (value >> 63) else -1.0
        return out
