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
CACHE_FEATURES = 200_000  # remembered feature hashes (~30 MB at most)


class HashEmbedder(Embedder):
    """Feature hashing of lower-cased words and word bigrams into `dim` signed buckets."""

    name = "hash"
    batch_size = 1024

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ConfigError(f"hash embedder dimension must be at least 8, got {dim}")
        self.dim = dim
        self._codes: dict[str, int] = {}

    @classmethod
    def from_spec(cls, arg: str) -> HashEmbedder:
        try:
            return cls(int(arg))
        except ValueError:
            raise ConfigError(f"hash embedder takes a dimension, got {arg!r}") from None

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words + [a + " " + b for a, b in pairwise(words)]

    def _code(self, feature: str) -> int:
        """The feature's bucket times two, plus one when it counts positively."""
        value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        code = (value % self.dim) * 2 + (value >> 63)
        if len(self._codes) < CACHE_FEATURES:
            self._codes[feature] = code
        return code

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        # Same vectors as hashing every feature into its own row, ~2x faster: frequent
        # features are hashed once, and the counts are summed by numpy in one pass.
        get, code = self._codes.get, self._code
        codes: list[int] = []
        counts: list[int] = []
        for text in texts:
            features = self._features(text)
            codes.extend([c if (c := get(f)) is not None else code(f) for f in features])
            counts.append(len(features))
        packed = np.array(codes, dtype=np.int64)
        cells = np.repeat(np.arange(len(texts), dtype=np.int64) * self.dim, counts) + (packed >> 1)
        signs = (packed & 1) * 2.0 - 1.0
        out = np.bincount(cells, weights=signs, minlength=len(texts) * self.dim)
        return out.reshape(len(texts), self.dim).astype(np.float32)
