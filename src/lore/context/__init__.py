"""Context: fragments packed under an exact token budget, rendered, and expanded to evidence."""

from __future__ import annotations

from .expand import expand, parse_handle
from .pack import build_context
from .render import pack_from_json, render_json, render_markdown

__all__ = [
    "build_context",
    "expand",
    "pack_from_json",
    "parse_handle",
    "render_json",
    "render_markdown",
]
