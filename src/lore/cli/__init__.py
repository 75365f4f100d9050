"""The `lore` command line: one module per command group, all thin layers over `Lore`."""

from __future__ import annotations

from . import evals, query, records
from .app import cli, main

__all__ = ["cli", "evals", "main", "query", "records"]
