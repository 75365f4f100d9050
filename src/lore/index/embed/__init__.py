"""Embedders: a registry from name to class, one module per backend."""

from __future__ import annotations

from .base import (
    Embedder,
    available_embedders,
    get_embedder,
    register_embedder,
    spec_for_identity,
)

__all__ = [
    "Embedder",
    "available_embedders",
    "get_embedder",
    "register_embedder",
    "spec_for_identity",
]
