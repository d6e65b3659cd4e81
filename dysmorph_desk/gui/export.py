"""Small helpers behind Export PDF and the inputs: the default report path, and what a
clipboard or drop payload holds."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from dysmorph_desk.gui.qtutil import from_qimage
from dysmorph_desk.screening.results import CaseInfo
from dysmorph_desk.settings import Settings


def default_report_path(settings: Settings, case: CaseInfo) -> Path:
    """``<report folder>/screening-<patient id or time>.pdf`` (never the photo's file name)."""
    folder = Path(settings.report.folder) if settings.report.folder else Path.home()
    if not folder.is_dir():
        folder = Path.home()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", case.patient_id).strip("-") or datetime.now().strftime(
        "%Y%m%d-%H%M"
    )
    return folder / f"screening-{stem}.pdf"


def mime_payload(mime: QMimeData | None, image: QImage | None = None) -> str | np.ndarray | None:
    """A local file path, or RGB pixels, from a clipboard or drop payload; None if neither."""
    if mime is None:
        return None
    if mime.hasUrls():
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if files:
            return files[0]
    if mime.hasImage():
        img = image if image is not None else mime.imageData()
        if isinstance(img, QImage) and not img.isNull():
            return from_qimage(img)
    if mime.hasText() and Path(mime.text().strip()).is_file():
        return mime.text().strip()
    return None
