"""Connectors that turn files into record drafts, and the writer that stores them."""

from __future__ import annotations

from .base import Connector, available_formats, detect_format, get_connector, register_connector

__all__ = ["Connector", "available_formats", "detect_format", "get_connector", "register_connector"]
