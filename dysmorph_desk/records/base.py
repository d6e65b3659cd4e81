"""Opening the case store, its schema migrations, and its transactions.

Opening inspects before it writes: a store that is read-only, damaged, or from a newer
DysmorphDesk is refused (:class:`StoreError`) before anything (not even the journal mode) is
changed. Every change then runs in one ``BEGIN IMMEDIATE`` transaction (:meth:`StoreBase._write`):
one writer at a time across processes, a second waiting up to 10 s (``busy_timeout``), and on
failure a rollback that also removes the photo files the transaction wrote.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date as Date
from pathlib import Path
from typing import Self

from dysmorph_desk.errors import StoreError, UsageError
from dysmorph_desk.records import db
from dysmorph_desk.records.schema import MIGRATIONS, SCHEMA_VERSION, statements
from dysmorph_desk.utils import paths

log = logging.getLogger(__name__)

DB_NAME = "cases.sqlite"
PHOTOS_DIR = "photos"


def iso_date(value: Date | str | None) -> str:
    """A visit date as ``YYYY-MM-DD`` (today when None); anything else is a usage error."""
    if value is None:
        return Date.today().isoformat()
    if isinstance(value, Date):
        return value.isoformat()
    try:
        return Date.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(f"not a date (YYYY-MM-DD): {value[:40]!r}") from None


class StoreBase:
    """The open database and its transactions; :class:`~dysmorph_desk.records.store.CaseStore`
    adds the lookups and the filing."""

    def __init__(self, path: Path | str | None = None, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path) if path is not None else paths.store_dir()
        self.db_file = self.path / DB_NAME
        self.photos_dir = self.path / PHOTOS_DIR
        self.journal_note: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._depth = 0
        self._new_files: list[Path] = []
        self._busy_timeout = busy_timeout
        self._open()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        self._make_folder(self.path)
        if not db.writable(self.path, self.db_file):
            raise StoreError(db.READ_ONLY)
        try:
            if not self.db_file.exists():  # born 0600: sqlite would create it 0644
                os.close(os.open(self.db_file, os.O_CREAT | os.O_RDWR, 0o600))
            self._conn = sqlite3.connect(
                self.db_file, timeout=self._busy_timeout, isolation_level=None
            )
            conn = self._conn
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # a deleted case's bytes are zeroed
            version = self._inspect(conn)  # reads only: a refused store is left as it was
            self._set_journal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            if version < SCHEMA_VERSION:
                self._migrate()
            self._make_folder(self.photos_dir)
            self.vacuum_orphans()
        except BaseException as exc:
            self.close()
            error = db.as_store_error(exc, self.path)
            if error is None:
                raise
            raise error from exc

    @staticmethod
    def _make_folder(folder: Path) -> None:
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():
            raise StoreError(f"the case store path {folder.name} is not a folder")
        try:
            folder.mkdir(parents=True, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        except OSError as exc:
            raise db.os_error(exc) from exc

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        if "meta" not in tables:
            raise StoreError("the case store's file is not a DysmorphDesk case store")
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise StoreError(db.DAMAGED) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the case store was written by a newer DysmorphDesk (schema {version}); "
                "update the app"
            )
        return version

    def _inspect(self, conn: sqlite3.Connection) -> int:
        version = self._version(conn)
        if version:
            check = conn.execute("PRAGMA quick_check(1)").fetchone()
            if not check or check[0] != "ok":
                log.error("case store: quick_check failed: %s", check)
                raise StoreError(db.DAMAGED)
        return version

    def _set_journal(self, conn: sqlite3.Connection) -> None:
        share = db.network_share(self.path)
        mode = "delete" if share else "wal"
        got = self._journal_mode(conn, mode)
        if share:
            log.warning(
                "case store on a network share (%s): rollback journal instead of WAL", share
            )
            self.journal_note = (
                f"The case store is on a network share ({share}), so it keeps a rollback journal "
                "instead of WAL: filing is slower, and it is only as safe as the share's locking."
            )
        elif got != "wal":
            log.warning("case store: WAL not available (journal mode %s)", got)
            self.journal_note = f"The case store could not use WAL (journal mode {got})."

    def _journal_mode(self, conn: sqlite3.Connection, mode: str) -> str:
        """Set the journal mode, waiting like any other write when another process holds the
        store: SQLite answers "locked" at once here (the busy handler does not cover this
        change), e.g. when two processes create a new store at the same moment."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                row = conn.execute(f"PRAGMA journal_mode = {mode.upper()}").fetchone()
                return str(row[0]).lower()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        with self._write() as conn:
            version = self._version(conn)  # again, under the lock: another process may have
            for script in MIGRATIONS[version:]:
                for statement in statements(script):
                    conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        log.info("case store schema %d -> %d", version, SCHEMA_VERSION)

    # ------------------------------------------------------------------ transactions

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the case store is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls join the outer one (one filing, one commit)."""
        conn = self._connection()
        if self._depth:
            self._depth += 1
            try:
                yield conn
            finally:
                self._depth -= 1
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise db.store_error(exc, self.path) from exc
        self._depth, self._new_files = 1, []
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for path in self._new_files:  # the rows naming them were never committed
                with suppress(OSError):
                    path.unlink()
            error = db.as_store_error(exc, self.path)
            if error is None:
                raise
            raise error from exc
        finally:
            self._depth, self._new_files = 0, []

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs (joins a write transaction if in one)."""
        conn = self._connection()
        if self._depth:
            yield conn
            return
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise db.store_error(exc, self.path) from exc

    @staticmethod
    def _case_id(conn: sqlite3.Connection, case_uid: str) -> int:
        row = conn.execute("SELECT id FROM cases WHERE uid = ?", (case_uid,)).fetchone()
        if row is None:
            raise UsageError(f"no case {case_uid[:40]} in the case store")
        return int(row[0])

    @staticmethod
    def _visit(conn: sqlite3.Connection, visit_uid: str) -> tuple[int, str]:
        row = conn.execute(
            "SELECT v.id, c.uid FROM visits v JOIN cases c ON c.id = v.case_id WHERE v.uid = ?",
            (visit_uid,),
        ).fetchone()
        if row is None:
            raise UsageError(f"no visit {visit_uid[:40]} in the case store")
        return int(row[0]), str(row[1])

    def vacuum_orphans(self) -> int:
        """Remove files in ``photos/`` that no row names (left by a crash); how many.

        Runs under the write lock, so a file another process is filing right now (written but not
        yet committed) is never taken for an orphan.
        """
        if not self.photos_dir.is_dir():
            return 0
        removed = 0
        with self._write() as conn:
            named = {r[0] for r in conn.execute("SELECT file FROM photos WHERE file IS NOT NULL")}
            for path in sorted(self.photos_dir.rglob("*"), reverse=True):
                if path.is_dir() and not path.is_symlink():
                    with suppress(OSError):
                        path.rmdir()  # only if empty
                    continue
                if path.relative_to(self.photos_dir).as_posix() in named:
                    continue
                try:
                    path.unlink()
                    removed += 1
                except OSError as exc:
                    log.warning("case store: an orphan photo file stays (%s)", exc.strerror)
        if removed:
            log.info("case store: removed %d orphan photo file(s)", removed)
        return removed
