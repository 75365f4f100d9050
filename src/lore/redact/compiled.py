"""Compiled Hyperscan databases kept on disk, so a new process loads one in a fraction of a
millisecond instead of compiling it again (0.3-0.5 s for the redaction prefilter: the cost
of every `lore add` or `lore ingest` otherwise).

A database is stored under a name made of everything it is compiled from (expressions, ids,
flags, mode) and the Hyperscan version. Hyperscan refuses a database serialised on a CPU
with other features, and a refused, truncated or unreadable file is compiled again and
replaced; a directory that cannot be written only costs the compile. The directory is
`$LORE_CACHE_DIR`, else `$XDG_CACHE_HOME/lore`, else `~/.cache/lore`; `LORE_CACHE_DIR=""`
turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

PREFIX = "hyperscan-"


def cache_dir() -> Path | None:
    """Where compiled databases are kept, or None when caching is off."""
    chosen = os.environ.get("LORE_CACHE_DIR")
    if chosen is not None:
        return Path(chosen).expanduser() if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lore"


def _name(hs: Any, expressions: list[bytes], flags: list[int], mode: int) -> str:
    digest = hashlib.sha256(repr((getattr(hs, "__version__", ""), mode, flags)).encode())
    for expression in expressions:
        digest.update(len(expression).to_bytes(4, "little") + expression)
    return f"{PREFIX}{digest.hexdigest()[:32]}.db"


def compile_database(hs: Any, expressions: list[bytes], flags: list[int]) -> Any:
    """A block-mode database of `expressions` (ids 0..n-1), from the cache when it holds one."""
    mode = hs.HS_MODE_BLOCK
    folder = cache_dir()
    path = None if folder is None else folder / _name(hs, expressions, flags, mode)
    if path is not None:
        try:
            return hs.loadb(path.read_bytes(), mode)
        except (OSError, hs.error):  # absent, unreadable, truncated, from another CPU
            pass
    database = hs.Database(mode=mode)
    database.compile(
        expressions=expressions, ids=list(range(len(expressions))),
        elements=len(expressions), flags=flags,
    )
    if path is not None:
        _store(path, hs.dumpb(database))
    return database


def _store(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (a concurrent reader never sees half)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only or full disk: the next process compiles again
