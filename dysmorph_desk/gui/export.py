"""Small helpers behind the inputs: what a clipboard or drop payload holds, and a frame as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

from dysmorph_desk.gui.qtutil import from_qimage


def png_bytes(rgb: np.ndarray) -> bytes:
    """A captured or pasted frame (RGB uint8) as a PNG file's bytes (lossless)."""
    import cv2

    rgb = np.ascontiguousarray(rgb)
    bgr = rgb[..., 2::-1] if rgb.ndim == 3 else rgb  # RGBA loses its alpha, grey stays grey
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError("the image could not be encoded as PNG")
    return buf.tobytes()


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
