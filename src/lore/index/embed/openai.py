"""Any OpenAI-compatible `/v1/embeddings` server (opt-in; never contacted unless chosen)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import httpx
import numpy as np

from ...errors import ConfigError, EmbeddingError
from .base import Embedder


class OpenAIEmbedder(Embedder):
    """Calls `POST {base_url}/embeddings`; the dimension is learnt from the first answer."""

    name = "openai"
    batch_size = 128

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        dim: int | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.model = model or os.environ.get("LORE_EMBED_MODEL", "")
        self.base_url = (base_url or os.environ.get("LORE_EMBED_URL", "")).rstrip("/")
        if not self.model or not self.base_url:
            raise ConfigError(
                "the openai embedder needs a model and a base URL",
                hint="use --embedder openai:MODEL@http://host:port/v1 "
                "or set LORE_EMBED_MODEL and LORE_EMBED_URL",
            )
        key = api_key or os.environ.get("LORE_EMBED_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self.dim = dim or int(self.embed_batch(["dimension probe"]).shape[1])

    @property
    def identity(self) -> str:
        return f"{self.name}:{self.model}:{self.dim}"

    @classmethod
    def from_spec(cls, arg: str) -> OpenAIEmbedder:
        model, _, url = arg.partition("@")
        return cls(model=model or None, base_url=url or None)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        try:
            response = self._client.post(
                "/embeddings", json={"model": self.model, "input": list(texts)}
            )
            response.raise_for_status()
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            return np.array([item["embedding"] for item in items], dtype=np.float32)
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"embedding server {self.base_url} failed: {exc}") from exc
