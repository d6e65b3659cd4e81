"""The window's link to the case store: opened once (on first use, or just after start-up) and
kept open; if it cannot be opened (busy, read-only, damaged, from a newer version) the app works
on without it, says why once, and tries again the next time the store is needed.

SQLite calls are milliseconds, so they run on the UI thread; only the connection's owner (the UI
thread) ever uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dysmorph_desk.errors import StoreError
from dysmorph_desk.settings import Settings

if TYPE_CHECKING:
    from dysmorph_desk.records.store import CaseStore

log = logging.getLogger(__name__)


def store_path(settings: Settings) -> Path | None:
    """The store's folder from the settings; None = the default (``utils.paths.store_dir``)."""
    text = settings.records.store_path
    return Path(text).expanduser() if text else None


class StoreLink:
    """Opens ``CaseStore`` lazily and remembers why it could not."""

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings
        self._store: CaseStore | None = None
        self._path: Path | None = None
        self.error: str | None = None  # the last reason the store could not be opened

    def get(self) -> CaseStore:
        """The open store, opening it if needed (also after the store path setting changed).

        Raises:
            StoreError: it cannot be opened; ``error`` holds the same one-line reason.
        """
        path = store_path(self._settings())
        if self._store is not None and path == self._path:
            return self._store
        self.close()
        from dysmorph_desk.records.store import CaseStore

        try:
            self._store = CaseStore(path)
        except StoreError as exc:
            self.error = str(exc)
            log.warning("case store unavailable: %s", exc)
            raise
        except OSError as exc:  # anything the store did not translate: still one line
            self.error = f"the case store cannot be opened ({exc.strerror or exc})"
            log.warning("case store unavailable", exc_info=True)
            raise StoreError(self.error) from exc
        self._path, self.error = path, None
        return self._store

    def probe(self) -> str | None:
        """Open the store now; the reason it cannot be opened, or None."""
        try:
            self.get()
        except StoreError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()
