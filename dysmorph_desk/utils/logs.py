"""Logging: one-line messages on stderr, full detail (tracebacks) in the user log file."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from dysmorph_desk.utils import paths

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class OneLineFormatter(logging.Formatter):
    """The terminal's formatter: no tracebacks (they go to the log file) and no control codes.

    ``log.exception`` in library code would otherwise print a whole traceback on stderr; and a
    message may carry text from a file (a bundle's name, a photo's name) whose escape codes must not
    reach the terminal raw.
    """

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            return _CONTROL.sub("?", super().format(record))
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def setup_logging(debug: bool = False) -> Path | None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else logging.WARNING)
    console.setFormatter(
        logging.Formatter("%(levelname)s: %(message)s")
        if debug
        else OneLineFormatter("%(levelname)s: %(message)s")
    )
    root.addHandler(console)
    for noisy in ("PIL", "matplotlib", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        log_file = folder / "dysmorph-desk.log"
        fh = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
        return log_file
    except OSError:
        return None
