"""Memories distilled from records: episodes, facts, decisions and procedures, each cited."""

from __future__ import annotations

from .distill import Distiller, DistillReport, distill
from .search import search_memories
from .store import MemoryFilters, MemoryStore

__all__ = [
    "DistillReport",
    "Distiller",
    "MemoryFilters",
    "MemoryStore",
    "distill",
    "search_memories",
]
