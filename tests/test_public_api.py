"""The package root exports a short, sorted, deliberate surface."""

from __future__ import annotations

import lore

EXPECTED = [
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


def test_exported_members_are_deliberate() -> None:
    assert lore.__all__ == EXPECTED, "update EXPECTED when the public surface changes on purpose"
    assert lore.__all__[1:] == sorted(lore.__all__[1:])


def test_every_export_exists_and_errors_share_one_base() -> None:
    for name in lore.__all__:
        assert hasattr(lore, name), name
    errors = [
        getattr(lore, n)
        for n in lore.__all__
        if n.endswith(("Error", "Denied", "NotFound", "Mismatch"))
    ]
    assert all(issubclass(e, lore.LoreError) for e in errors)
