"""Aligned faces cached by photo hash, so a dataset is detected and aligned once.

Lives in the platformdirs cache folder (``dysmorph-desk cache --purge`` empties it). Keys combine
the photo's SHA-256, the alignment template and the size; photos without a usable face are
remembered too (with the reason), so they are reported, not re-detected, on every run.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np

from dysmorph_desk.errors import InputRefused
from dysmorph_desk.faces.align import TEMPLATE_NAME, align_face
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.faces.image import load_image
from dysmorph_desk.faces.quality import MIN_FACE_IOD_PX
from dysmorph_desk.utils import paths
from dysmorph_desk.utils.atomic import write_bytes_atomic


def _key(photo_sha: str, size: int) -> Path:
    return paths.faces_cache_dir() / photo_sha[:2] / f"{photo_sha}_{TEMPLATE_NAME}_{size}"


def aligned_face_for(path: Path, size: int, detector: FaceDetector) -> np.ndarray:
    """The largest face of a photo aligned to ``size``; raises InputRefused (cached too)."""
    data = Path(path).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    key = _key(sha, size)
    png, refused = key.with_suffix(".png"), key.with_suffix(".refused")
    if png.exists():
        img = cv2.imread(str(png), cv2.IMREAD_COLOR)
        if img is not None:
            return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if refused.exists():
        raise InputRefused(refused.read_text(encoding="utf-8"))
    try:
        image = load_image(data)
        faces = detector.detect(image.rgb)
        if not faces:
            raise InputRefused("no face found")
        if faces[0].size / image.scale < MIN_FACE_IOD_PX:
            raise InputRefused("face too small")
    except InputRefused as exc:
        write_bytes_atomic(refused, str(exc).encode("utf-8"))
        raise
    aligned = align_face(image.rgb, faces[0].landmarks, size).image
    ok, buf = cv2.imencode(".png", cv2.cvtColor(aligned, cv2.COLOR_RGB2BGR))
    if ok:
        write_bytes_atomic(png, buf.tobytes())
    return aligned


def purge_cache() -> int:
    folder = paths.faces_cache_dir()
    if not folder.exists():
        return 0
    n = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    return n
