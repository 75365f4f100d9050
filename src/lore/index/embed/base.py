"""The embedder contract: one required method (`embed_batch`); batching and checks live here."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from ...errors import ConfigError, EmbeddingError

_REGISTRY: dict[str, str] = {
    # name -> "module:Class", imported lazily so an unused backend costs nothing at start-up.
    "minilm": "lore.index.embed.onnx_minilm:MiniLMEmbedder",
    "hash": "lore.index.embed.hashing:HashEmbedder",
    "openai": "lore.index.embed.openai:OpenAIEmbedder",
}


class Embedder(ABC):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    name: ClassVar[str]
    batch_size: ClassVar[int] = 64

    dim: int

    @property
    def identity(self) -> str:
        """What the store records to refuse vectors from another embedder."""
        return f"{self.name}:{self.dim}"

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for one batch, shape (len(texts), dim)."""

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for any number of texts, batched, checked and L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            vectors = np.asarray(self.embed_batch(batch), dtype=np.float32)
            if vectors.shape != (len(batch), self.dim):
                raise EmbeddingError(
                    f"embedder {self.name!r} returned shape {vectors.shape}, "
                    f"expected {(len(batch), self.dim)}"
                )
            parts.append(vectors)
            if progress is not None:
                progress(len(batch))
        out = np.concatenate(parts) if len(parts) > 1 else parts[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (out / norms).astype(np.float32, copy=False)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def register_embedder(name: str, target: str) -> None:
    """Register an embedder class under `name` ("package.module:Class")."""
    _REGISTRY[name] = target


def available_embedders() -> list[str]:
    return sorted(_REGISTRY)


def get_embedder(spec: str | Embedder) -> Embedder:
    """An embedder from a name such as "minilm", "hash", "hash:256" or "openai:MODEL@URL"."""
    if isinstance(spec, Embedder):
        return spec
    name, _, arg = spec.partition(":")
    target = _REGISTRY.get(name)
    if target is None:
        raise ConfigError(
            f"unknown embedder {name!r}", hint=f"choose one of {', '.join(available_embedders())}"
        )
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_spec(arg) if arg else cls()


def spec_for_identity(identity: str) -> str:
    """The embedder spec that reproduces a recorded identity ("hash:256" -> "hash:256")."""
    name, _, rest = identity.partition(":")
    if name == "minilm":
        return "minilm"
    if name == "openai":
        return "openai:" + rest.rsplit(":", 1)[0]
    return identity
