"""A bundled sample workspace (the fictional Northwind Labs payments team) and its ingest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..types import IngestReport

if TYPE_CHECKING:
    from ..engine import Lore

__all__ = ["ingest_workspace", "workspace_files", "workspace_path"]


def workspace_path() -> Path:
    """The directory holding the sample workspace's chat, meetings, agent runs and docs."""
    return Path(__file__).resolve().parent / "workspace"


def workspace_files() -> list[Path]:
    """Every file of the sample workspace, in a stable order (hidden files left out)."""
    root = workspace_path()
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def ingest_workspace(lore: Lore, namespace: str = "northwind") -> dict[str, IngestReport]:
    """Ingest every sample file (format detected) under `namespace`; reports by relative path."""
    root = workspace_path()
    return {
        path.relative_to(root).as_posix(): lore.ingest(path, namespace=namespace)
        for path in workspace_files()
    }
