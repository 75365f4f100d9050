"""The `lore` command line: one module per command group, all thin layers over `Lore`."""

from __future__ import annotations

from . import evals, keys, query, records, redact, serve
from .app import cli, main

__all__ = ["cli", "evals", "keys", "main", "query", "records", "redact", "serve"]
