"""Lore: the open, self-hosted world model for a company's agents and people."""

from __future__ import annotations

from .engine import USE_DEFAULT, Lore
from .errors import (
    AccessDenied,
    ConfigError,
    EmbedderMismatch,
    EmbeddingError,
    IngestError,
    LoreError,
    NotFound,
    QueryError,
    StorageError,
)
from .types import (
    Citation,
    ContextPack,
    Draft,
    Expansion,
    Filters,
    Fragment,
    Hit,
    IngestProblem,
    IngestReport,
    Memory,
    MemoryHit,
    Query,
    Record,
    RetrieverHit,
    Source,
)

__version__ = "0.1.0"

__all__ = [
    "USE_DEFAULT",
    "AccessDenied",
    "Citation",
    "ConfigError",
    "ContextPack",
    "Draft",
    "EmbedderMismatch",
    "EmbeddingError",
    "Expansion",
    "Filters",
    "Fragment",
    "Hit",
    "IngestError",
    "IngestProblem",
    "IngestReport",
    "Lore",
    "LoreError",
    "Memory",
    "MemoryHit",
    "NotFound",
    "Query",
    "QueryError",
    "Record",
    "RetrieverHit",
    "Source",
    "StorageError",
]
