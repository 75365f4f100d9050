"""Compiled Hyperscan databases kept on disk: loaded instead of compiled, never trusted blindly."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from lore.redact import compiled

hyperscan = pytest.importorskip("hyperscan")

EXPRESSIONS = [rb"secret", rb"[0-9]{3}-[0-9]{4}"]
FLAGS = [hyperscan.HS_FLAG_CASELESS, 0]


def matches(database: object, data: bytes) -> list[tuple[int, int, int]]:
    found: list[tuple[int, int, int]] = []
    database.scan(  # type: ignore[attr-defined]
        data,
        match_event_handler=lambda ident, start, end, flags, context: found.append(
            (ident, start, end)
        ),
        scratch=hyperscan.Scratch(database),
    )
    return found


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LORE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_database_is_compiled_once_then_loaded(cache: Path) -> None:
    first = compiled.compile_database(hyperscan, EXPRESSIONS, FLAGS)
    (stored,) = cache.iterdir()
    assert stored.name.startswith(compiled.PREFIX) and stored.stat().st_size > 0

    def no_database(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    # Hyperscan itself, but for a Database class that fails if anything compiles.
    loading_only = SimpleNamespace(**{**vars(hyperscan), "Database": no_database})
    again = compiled.compile_database(loading_only, EXPRESSIONS, FLAGS)
    text = b"the SECRET is 555-1234"
    assert matches(again, text) == matches(first, text) == [(0, 0, 10), (1, 0, 22)]


def test_other_expressions_or_flags_get_their_own_file(cache: Path) -> None:
    compiled.compile_database(hyperscan, EXPRESSIONS, FLAGS)
    compiled.compile_database(hyperscan, EXPRESSIONS, [0, 0])
    compiled.compile_database(hyperscan, [*EXPRESSIONS, rb"key"], [*FLAGS, 0])
    assert len(list(cache.iterdir())) == 3


def test_a_damaged_file_is_compiled_again_and_replaced(cache: Path) -> None:
    compiled.compile_database(hyperscan, EXPRESSIONS, FLAGS)
    (stored,) = cache.iterdir()
    good = stored.read_bytes()
    stored.write_bytes(good[: len(good) // 2])  # truncated, as by a full disk
    database = compiled.compile_database(hyperscan, EXPRESSIONS, FLAGS)
    assert matches(database, b"secret") == [(0, 0, 6)]
    assert stored.read_bytes() == good


def test_an_unwritable_cache_only_costs_the_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LORE_CACHE_DIR", str(blocker / "cache"))
    database = compiled.compile_database(hyperscan, EXPRESSIONS, FLAGS)
    assert matches(database, b"123-4567") == [(1, 0, 8)]


def test_the_cache_directory_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LORE_CACHE_DIR", "")
    assert compiled.cache_dir() is None
    monkeypatch.delenv("LORE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compiled.cache_dir() == tmp_path / "lore"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compiled.cache_dir() == tmp_path / "home" / ".cache" / "lore"
