"""A deterministic hashing embedder: no model, stable across runs; for tests and fallback."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from ...errors import ConfigError
from .base import Embedder

_WORD = re.compile(r"\w+", re.UNICODE)
CACHE_WORDS = 200_000  # remembered word hashes (~30 MB at most)
VERSION = "v2"  # v1 hashed every word pair's text; v2 mixes the two words' hashes (below)

# Constants of splitmix64's finaliser (Steele, Lea and Flood, 2014), a cheap, well-mixed
# 64-bit permutation; it turns two word hashes into their pair's hash.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _finalise(values: np.ndarray) -> np.ndarray:
    values = (values ^ (values >> np.uint64(30))) * _MIX1
    values = (values ^ (values >> np.uint64(27))) * _MIX2
    return values ^ (values >> np.uint64(31))


class HashEmbedder(Embedder):
    """Feature hashing of lower-cased words and word bigrams into `dim` signed buckets.

    Each word is hashed once (BLAKE2b, 64 bits, remembered); a bigram's hash is a mix of its
    two words' hashes, computed for a whole batch at once by numpy, so the cost per text is
    one regex pass and one dictionary lookup per word. The top bit of a feature's hash is its
    sign, the rest modulo `dim` its bucket.
    """

    name = "hash"
    batch_size = 1024

    def __init__(self, dim: int = 256) -> None:
        if dim < 8:
            raise ConfigError(f"hash embedder dimension must be at least 8, got {dim}")
        self.dim = dim
        self._hashes: dict[str, int] = {}

    @property
    def identity(self) -> str:
        return f"{self.name}:{self.dim}:{VERSION}"

    @classmethod
    def from_spec(cls, arg: str) -> HashEmbedder:
        """ "256" or "256:v2" (the form a store records); another version is an error."""
        size, _, version = arg.partition(":")
        if version not in ("", VERSION):
            raise ConfigError(
                f"hash embedder version {version!r} is not this Lore's ({VERSION!r})",
                hint="re-embed the store: lore reembed hash:" + size,
            )
        try:
            return cls(int(size))
        except ValueError:
            raise ConfigError(f"hash embedder takes a dimension, got {arg!r}") from None

    def _hash(self, word: str) -> int:
        value = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        if len(self._hashes) < CACHE_WORDS:
            self._hashes[word] = value
        return value

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        get, compute, find = self._hashes.get, self._hash, _WORD.findall
        hashes: list[int] = []
        counts: list[int] = []
        for text in texts:
            words = find(text.lower())
            hashes.extend([h if (h := get(w)) is not None else compute(w) for w in words])
            counts.append(len(words))
        words_of = np.array(counts, dtype=np.int64)
        unigrams = np.array(hashes, dtype=np.uint64)
        # A bigram joins word i and word i+1 of the same text: every i but each text's last.
        has_next = np.ones(len(unigrams), dtype=bool)
        has_next[np.cumsum(words_of)[words_of > 0] - 1] = False
        left = np.flatnonzero(has_next)
        with np.errstate(over="ignore"):
            bigrams = _finalise(unigrams[left] * _GOLDEN + unigrams[left + 1])
        codes = np.concatenate([unigrams, bigrams])
        text_of_word = np.repeat(np.arange(len(texts), dtype=np.int64), words_of)
        owners = np.concatenate([text_of_word, text_of_word[left]])
        cells = owners * self.dim + (codes % np.uint64(self.dim)).astype(np.int64)
        signs = (codes >> np.uint64(63)).astype(np.float64) * 2.0 - 1.0
        out = np.bincount(cells, weights=signs, minlength=len(texts) * self.dim)
        return out.reshape(len(texts), self.dim).astype(np.float32)
