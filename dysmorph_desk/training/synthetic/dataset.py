"""Writing the synthetic dataset: images, masks, labels.csv, identities.csv and the README.

This is the generator's entry point (``make_synthetic``): it derives one random stream per
identity from the seed, so a given seed and version give the same labels and pixel-identical
files, encodes the photos (JPEG) and masks (PNG), and writes a README that says, before anything
else, that the data are synthetic and for demonstration only.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dysmorph_desk.errors import UsageError
from dysmorph_desk.training.synthetic.params import (
    CLASSES,
    EYE_SHIFT_IOD,
    GENERATOR_VERSION,
    JPEG_QUALITY,
    MASK_DILATE_PX,
    MASK_THRESHOLD_PX,
    MIDFACE,
    SLANT_DEG,
)
from dysmorph_desk.training.synthetic.render import make_identity, render_photo
from dysmorph_desk.training.synthetic.variation import make_varied_class_identity, with_expression

VARIATIONS = ("narrow", "wide")


@dataclass
class SyntheticSummary:
    out_dir: Path
    n_images: int
    n_identities: int
    per_class: int
    seed: int
    description: str


def _jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _png_bytes(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", gray)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _readme(summary_lines: list[str]) -> str:
    return "\n".join(
        [
            "DysmorphDesk synthetic face dataset",
            "===================================",
            "",
            "SYNTHETIC DATA FOR DEMONSTRATION ONLY. These are not photographs of patients and carry no",
            "clinical information. Models trained on them demonstrate the software; they must never be",
            "used to screen real people.",
            "",
            *summary_lines,
            "",
            "How it was made",
            "---------------",
            "Source faces: the two public-domain portraits bundled with DysmorphDesk (Eileen Collins, NASA;",
            "Grace Hopper, U.S. Navy), aligned by their five landmarks into a canonical canvas, plus their",
            "mirrored left and right half-faces. Each synthetic identity is a cross-dissolve of two of these",
            "(separate weights for the inner face and the rest), a random colour/skin-tone shift and a small",
            "random smooth warp (face width, eye spacing and height, nose length and width, mouth, chin).",
            "",
            "Class-defining change (a smooth displacement field of Gaussian-weighted local displacements):",
            f"  syndromic_like: each eye region moved outward by {EYE_SHIFT_IOD[0]:.0%}-{EYE_SHIFT_IOD[1]:.0%} of the",
            f"    inter-ocular distance and rotated {SLANT_DEG[0]:.0f}-{SLANT_DEG[1]:.0f} degrees outer corner up; the nose",
            f"    shortened by {MIDFACE[0]:.0%}-{MIDFACE[1]:.0%} and widened (strength drawn per identity, +-15% jitter).",
            "  control: displacements of the same kinds and magnitudes placed away from eyes and nose",
            "    (a symmetric pair at temples, cheeks, jaw or ear/hair region, plus forehead or chin).",
            "masks/ holds, for every image, the region whose geometry the class change moved by more than",
            f"{MASK_THRESHOLD_PX:g} px in the canonical canvas (dilated by {MASK_DILATE_PX} px), warped like the image.",
            "",
            "Each identity is photographed several times: random roll (+-15 deg), size (inter-ocular",
            "45-110 px), position, mild yaw/pitch, mirror, random background, lighting, blur, sensor noise",
            "and JPEG quality 75-95. All photos of one identity share its patient_id and label.",
            "age_months and sex are random metadata drawn independently of the face and of the label.",
            "",
            "Files: labels.csv (path,label,patient_id,age_months,sex), identities.csv (per-identity",
            "strength and recipe), images/<class>/NNNNN.jpg, masks/<class>/NNNNN.png.",
            "",
        ]
    )


def make_synthetic(
    out_dir: Path,
    per_class: int,
    *,
    seed: int = 0,
    photos_per_identity: int = 3,
    variation: str = "narrow",
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticSummary:
    """Write ``per_class`` images of each class to ``out_dir`` (which must not exist or be empty).

    Args:
        out_dir: a new or empty folder.
        per_class: photos of each class.
        seed: the same seed (and variation) gives pixel-identical files.
        photos_per_identity: photos of each synthetic identity.
        variation: ``narrow`` mixes the base faces with one blend weight (the round-1 set; its
            files are unchanged for a seed); ``wide`` gives each child region-mixed features, its
            own skin, hair and face shape, and each photo an expression
            (``variation.make_varied_class_identity``), so that ordinary portraits are less often
            unlike the training photos. The demonstration bundles are trained on ``wide``.
        progress: called with (done, total) after each photo.
    """
    out_dir = Path(out_dir)
    if per_class < 1:
        raise UsageError("per_class must be at least 1")
    if photos_per_identity < 1:
        raise UsageError("photos_per_identity must be at least 1")
    if variation not in VARIATIONS:
        raise UsageError(f"variation must be one of {', '.join(VARIATIONS)}, not {variation!r}")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"{out_dir} exists and is not an empty folder; choose a new output folder")

    ids_per_class = math.ceil(per_class / photos_per_identity)
    master = np.random.SeedSequence([int(seed), 0x5D5])
    order_rng = np.random.default_rng(master.spawn(1)[0])
    labels = [c for c in CLASSES for _ in range(ids_per_class)]
    labels = [labels[i] for i in order_rng.permutation(len(labels))]
    child_seeds = master.spawn(len(labels))
    remaining = {c: per_class for c in CLASSES}

    for c in CLASSES:
        (out_dir / "images" / c).mkdir(parents=True, exist_ok=True)
        (out_dir / "masks" / c).mkdir(parents=True, exist_ok=True)
    total = per_class * len(CLASSES)
    rows: list[list[str]] = []
    ident_rows: list[list[str]] = []
    index = 0
    for k, (label, child) in enumerate(zip(labels, child_seeds, strict=False)):
        rng = np.random.default_rng(child)
        n_photos = min(photos_per_identity, remaining[label])
        remaining[label] -= n_photos
        if variation == "wide":
            ident = make_varied_class_identity(f"SYN-{k + 1:04d}", label, rng)
        else:
            ident = make_identity(f"SYN-{k + 1:04d}", label, rng)
        ident_rows.append([ident.patient_id, label, f"{ident.strength:.3f}", ident.recipe])
        for _ in range(n_photos):
            posed = with_expression(ident, rng)[0] if variation == "wide" else ident
            img, mask, _ = render_photo(posed, rng)
            quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
            rel = f"images/{label}/{index:05d}.jpg"
            (out_dir / rel).write_bytes(_jpeg_bytes(img, quality))
            (out_dir / "masks" / label / f"{index:05d}.png").write_bytes(_png_bytes(mask))
            rows.append([rel, label, ident.patient_id, str(ident.age_months), ident.sex])
            index += 1
            if progress is not None:
                progress(index, total)

    with open(out_dir / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["path", "label", "patient_id", "age_months", "sex"])
        writer.writerows(rows)
    with open(out_dir / "identities.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["patient_id", "label", "strength", "recipe"])
        writer.writerows(ident_rows)

    description = (
        f"{GENERATOR_VERSION}: {index} synthetic images of {len(labels)} identities "
        f"({per_class} per class, up to {photos_per_identity} photos per identity), seed {seed}, "
        f"{variation} identity variation; "
        "for demonstration only"
    )
    (out_dir / "README.txt").write_text(
        _readme(
            [
                f"Generator: {GENERATOR_VERSION} (dysmorph_desk.training.synthetic)",
                f"Seed: {seed}",
                f"Identity variation: {variation}"
                + (
                    " (region-mixed features, skin, hair, face shape; an expression per photo)"
                    if variation == "wide"
                    else " (one blend of two base faces)"
                ),
                f"Images: {index} ({per_class} per class: {', '.join(CLASSES)})",
                f"Identities: {len(labels)} (up to {photos_per_identity} photos each)",
            ]
        ),
        encoding="utf-8",
    )
    return SyntheticSummary(
        out_dir=out_dir,
        n_images=index,
        n_identities=len(labels),
        per_class=per_class,
        seed=int(seed),
        description=description,
    )
