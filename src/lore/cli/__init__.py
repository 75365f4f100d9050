"""The `lore` command line: one module per command group, all thin layers over `Lore`."""

from __future__ import annotations

from . import evals, fold, keys, memories, query, records, redact, serve
from .app import cli, main

__all__ = [
    "cli",
    "evals",
    "fold",
    "keys",
    "main",
    "memories",
    "query",
    "records",
    "redact",
    "serve",
]
