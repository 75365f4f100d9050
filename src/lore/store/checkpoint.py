"""Copies the write-ahead log into the database file on a background thread, off the write path.

In WAL mode SQLite's default is for the committing connection to checkpoint whenever the log
passes 1,000 pages: the writer then copies pages into the database and waits for two fsyncs
before it returns, on every large batch. Here the writer only appends to the log, and a thread
with its own connection runs passive checkpoints after commits. SQLite does the copying without
holding Python's GIL, so on a machine with two cores it overlaps the next batch's work.

A passive checkpoint never waits for readers or writers; what it cannot copy yet, the next one
does. The writer keeps its own automatic checkpoint as a safety net, at a larger size, for when
this thread falls behind (or is not running, e.g. in another process writing the same file);
and when the log file passes LOG_SIZE_LIMIT it checkpoints and starts it over itself
(`Checkpointer.after_commit`): under a stream of writes the log may never be idle otherwise.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading

WRITER_AUTOCHECKPOINT = 16_384  # pages (64 MiB at 4 KiB): the writer's own checkpoint size
LOG_SIZE_LIMIT = 64 * 1024 * 1024  # bytes a reset log file is truncated to


class Checkpointer:
    """A thread that checkpoints the log of the database at `path` each time it is poked.

    The thread starts at the first `poke()`, so a store that is only read starts none. Pokes
    that arrive while a checkpoint runs fold into one more run.
    """

    def __init__(self, path: str) -> None:
        self.path = path  # absolute: the thread opens it later, maybe after a chdir
        self.runs = 0  # checkpoints completed
        self.last: tuple[int, int, int] | None = None  # (busy, log pages, pages checkpointed)
        self.error: str | None = None  # the last failure, if the last run failed
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.running = threading.Lock()  # held during each checkpoint (see `after_commit`)

    def poke(self) -> None:
        """Ask for a checkpoint soon (after a commit)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(
                        target=self._run, name="lore-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def after_commit(self, writer: sqlite3.Connection) -> None:
        """Called by the writer after each commit: a checkpoint soon, on the thread; and when
        the log file has grown past LOG_SIZE_LIMIT (under a stream of writes the background
        checkpoints may never find it idle enough to start over), the writer waits for the
        checkpoint in progress, then checkpoints itself, waiting for readers, so that its
        next write starts the log over (and truncates the file)."""
        self.poke()
        try:
            size = os.stat(self.path + "-wal").st_size
        except OSError:
            return
        if size > LOG_SIZE_LIMIT:
            with self.running, contextlib.suppress(sqlite3.OperationalError):
                writer.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()  # (busy: next time)

    def stop(self) -> None:
        """Ask the thread to end after its current checkpoint (without waiting for it); its
        connection closes with it. Safe from any thread, a garbage collector's included."""
        self._stopping = True
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and wait for it."""
        with self._lock:
            self.stop()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            self.error = f"cannot open {self.path} to checkpoint: {exc}"
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                try:
                    # (fetchall: the statement is finished, holding nothing open afterwards)
                    with self.running:
                        row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
                except sqlite3.Error as exc:  # e.g. the file went away; the writer's own
                    self.error = str(exc)  # automatic checkpoint still bounds the log
                    continue
                self.last = (int(row[0]), int(row[1]), int(row[2]))
                self.error = None
                self.runs += 1
        finally:
            db.close()


def configure_writer(db: sqlite3.Connection) -> None:
    """The writer connection's side: checkpoint only as a safety net, and keep the log file
    from staying large after a burst of writes."""
    db.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
    db.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")
