"""Photos to gallery entries, through the one screening pipeline (no torch).

Every photo is screened by ``Screener.screen`` exactly as a patient's photo is (decoding, detection,
alignment, quality checks, the bundle's age range and atypicality rule, the forward graph), without
a heatmap; its ``ModelResult.embedding`` is what the gallery keeps. So a gallery entry and a
screened photo sit in the same space by construction, and a photo that screening would refuse ("no
face", a face turned too far, an age outside the model's range) never enters a gallery either.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dysmorph_desk.errors import InputRefused, Interrupted
from dysmorph_desk.gallery.model import Entry, Gallery

if TYPE_CHECKING:
    from dysmorph_desk.screening.pipeline import Screener

log = logging.getLogger(__name__)

PHOTO_LONG_SIDE = 1024  # a kept photo is scaled down to this (enough to re-detect and re-align)
PHOTO_QUALITY = 92


@dataclass(frozen=True)
class GalleryPhoto:
    """One photo to add: what it shows and where it came from."""

    source: Path | bytes
    disorder_id: str
    disorder_name: str
    patient_id: str
    origin: str = "photo"  # model.SOURCES: "data", "photo", "case"
    case_uid: str | None = None
    age_months: float | None = None


@dataclass(frozen=True)
class Embedded:
    """What the screening pipeline made of one photo."""

    embeddings: dict[str, tuple[str, np.ndarray]]  # bundle digest -> (bundle name, embedding)
    photo: bytes | None  # JPEG without metadata, when kept
    not_assessed: tuple[str, ...] = ()  # "model: reason" for each bundle that could not assess


@dataclass
class AddReport:
    added: list[Entry] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (1-based position, reason)
    partial: list[tuple[int, str]] = field(default_factory=list)  # added without some model


def photo_jpeg(rgb: np.ndarray) -> bytes:
    """The decoded photo as a JPEG with no metadata (no EXIF, GPS, names), long side <= 1024."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb, np.uint8), "RGB")
    if max(img.size) > PHOTO_LONG_SIDE:
        img.thumbnail((PHOTO_LONG_SIDE, PHOTO_LONG_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=PHOTO_QUALITY)
    return buf.getvalue()


def embed_photo(
    screener: Screener,
    source: Path | bytes,
    *,
    age_months: float | None = None,
    keep_photo: bool = False,
) -> Embedded:
    """Screen one photo (no heatmap) and collect each bundle's embedding.

    Args:
        screener: a ``screening.pipeline.Screener`` with the gallery's bundles.
        source: the photo's path or bytes.
        age_months: the child's age then, if known (checked against each model's range).
        keep_photo: also return the decoded photo as a metadata-free JPEG.

    Raises:
        InputRefused: the photo cannot be screened, or no model could assess its face (exit 3).
    """
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.results import CaseInfo

    result = screener.screen(
        source, CaseInfo(age_months=age_months), ScreenOptions(cam_method=None)
    )
    embeddings: dict[str, tuple[str, np.ndarray]] = {}
    missing: list[str] = []
    for m in result.results:
        if m.assessable and m.embedding is not None:
            embeddings[m.bundle_sha256] = (m.model, np.asarray(m.embedding, np.float32))
        else:
            missing.append(f"{m.model}: {m.cannot_assess_reason or 'no embedding'}")
    if not embeddings:
        raise InputRefused("; ".join(missing) or "no model could assess the face")
    photo = photo_jpeg(result.photo) if keep_photo and result.photo is not None else None
    return Embedded(embeddings, photo, tuple(missing))


def add_photos(
    gallery: Gallery,
    screener: Screener,
    photos: Sequence[GalleryPhoto],
    *,
    keep_photos: bool = False,
    say: Callable[[str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> AddReport:
    """Embed each photo and add it to ``gallery`` as one entry; refused photos are listed, not
    fatal (a data folder of 500 photos is not lost to one without a face).

    Photos are named in messages by position only: file names may carry a child's name.
    """
    report = AddReport()
    for i, p in enumerate(photos, start=1):
        if should_cancel and should_cancel():
            raise Interrupted("gallery build cancelled")
        try:
            emb = embed_photo(screener, p.source, age_months=p.age_months, keep_photo=keep_photos)
        except InputRefused as exc:
            report.refused.append((i, str(exc)))
            if say:
                say(f"photo {i}/{len(photos)} ({p.disorder_id}): left out: {exc}")
            continue
        entry = gallery.add(
            p.disorder_id,
            p.disorder_name,
            p.patient_id,
            emb.embeddings,
            source=p.origin,
            case_uid=p.case_uid,
            photo=emb.photo,
        )
        report.added.append(entry)
        if emb.not_assessed:
            report.partial.append((i, "; ".join(emb.not_assessed)))
        if say and i % 50 == 0:
            say(f"embedded {i}/{len(photos)} photos")
    return report
