"""Aligned faces cached by photo hash, so a dataset is detected and aligned once.

Lives in the platformdirs cache folder (``dysmorph-desk cache --purge`` empties it). Keys combine
the photo's SHA-256, the alignment template and the size; photos without a usable face are
remembered too (with the reason), so they are reported, not re-detected, on every run.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from dysmorph_desk.errors import InputRefused
from dysmorph_desk.faces.align import TEMPLATE_NAME, align_face
from dysmorph_desk.faces.detect import FaceDetector
from dysmorph_desk.faces.image import load_image
from dysmorph_desk.faces.pipeline import QUALITY_SIZE, detect_and_align
from dysmorph_desk.utils import paths
from dysmorph_desk.utils.atomic import write_bytes_atomic
from dysmorph_desk.utils.inputs import open_regular


def _key(photo_sha: str, size: int, refuse: tuple[str, ...]) -> Path:
    policy = "" if not refuse else "_refuse-" + "-".join(refuse)
    # the prefix is shared with the case store, which erases a deleted case's cached faces
    return Path(f"{paths.face_cache_prefix(photo_sha)}_{TEMPLATE_NAME}_{size}{policy}")


def aligned_face_for(
    path: Path, size: int, detector: FaceDetector, refuse_checks: Sequence[str] = ()
) -> np.ndarray:
    """The largest face of a photo aligned to ``size``; raises InputRefused (cached too).

    The face goes through the one face pipeline (``faces.pipeline.detect_and_align``), so a
    training photo is found, measured and aligned exactly as a screened one. Which failed quality
    checks refuse a *training* photo is the caller's choice: by default none (a blurred or turned
    face is still a labelled example of its class, as in the seed studies); ``refuse_checks``
    names checks (e.g. ``("blur", "yaw")``) that make a photo unusable for training. No face, or a
    face under 20 px between the eyes, is always refused.
    """
    refuse = tuple(sorted(set(refuse_checks)))
    data = open_regular(path)  # FIFOs, devices and huge files are refused, never read
    sha = hashlib.sha256(data).hexdigest()
    key = _key(sha, size, refuse)
    png, refused = key.with_suffix(".png"), key.with_suffix(".refused")
    if png.exists():
        img = cv2.imread(str(png), cv2.IMREAD_COLOR)
        if img is not None:
            return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if refused.exists():
        raise InputRefused(refused.read_text(encoding="utf-8"))
    try:
        image = load_image(data)
        finding = detect_and_align(image.rgb, detector, scale=image.scale, no_face_hint="")
        failed = finding.failed(refuse)
        if failed:
            raise InputRefused("; ".join(q.message for q in failed))
    except InputRefused as exc:
        write_bytes_atomic(refused, str(exc).encode("utf-8"))
        raise
    aligned = (
        finding.aligned.image
        if size == QUALITY_SIZE
        else align_face(image.rgb, finding.face.landmarks, size).image
    )
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
