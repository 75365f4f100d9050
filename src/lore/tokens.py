"""Exact token counts (cl100k_base by default) with the offline quicktok tokenizer."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .errors import ConfigError

DEFAULT_ENCODING = "cl100k_base"
ENCODINGS = ("cl100k_base", "o200k_base")


@lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    if name not in ENCODINGS:
        raise ConfigError(
            f"unknown token encoding {name!r}", hint=f"use one of {', '.join(ENCODINGS)}"
        )
    import quicktok

    return quicktok.get_encoding(name)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """The exact number of tokens `text` takes in `encoding`."""
    if not text:
        return 0
    return int(_encoding(encoding).count(text))


def truncate_to_tokens(text: str, max_tokens: int, encoding: str = DEFAULT_ENCODING) -> str:
    """The longest prefix of `text` that fits in `max_tokens` tokens."""
    if max_tokens <= 0:
        return ""
    enc = _encoding(encoding)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= max_tokens:
        return text
    cut = enc.decode(ids[:max_tokens])
    # A cut inside a multi-byte character decodes to U+FFFD; drop it.
    return cut.rstrip("\ufffd")
