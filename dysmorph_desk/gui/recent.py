"""Recently opened photos. File names can identify patients, so nothing is stored unless the user
allows it (``Settings.remember_photo_names``); turning that off forgets the list."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from dysmorph_desk.utils import paths
from dysmorph_desk.utils.atomic import write_text_atomic

log = logging.getLogger(__name__)
MAX_RECENT = 10


class RecentFiles:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            self.clear()

    @staticmethod
    def path() -> Path:
        return paths.config_dir() / "recent.json"

    def items(self) -> list[str]:
        if not self.enabled or not self.path().exists():
            return []
        try:
            data = json.loads(self.path().read_text(encoding="utf-8"))
            return [str(x) for x in data][:MAX_RECENT] if isinstance(data, list) else []
        except (OSError, ValueError):
            return []

    def add(self, photo: str | Path) -> None:
        if not self.enabled:
            return
        entry = str(Path(photo).resolve())
        items = [entry] + [x for x in self.items() if x != entry]
        try:
            write_text_atomic(
                self.path(), json.dumps(items[:MAX_RECENT], indent=1, ensure_ascii=False)
            )
        except OSError as exc:
            log.warning("recent files not saved (%s)", exc.__class__.__name__)

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            self.clear()

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path().unlink(missing_ok=True)
