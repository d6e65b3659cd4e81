"""What the atypicality check says on typical, unusual and non-photographic faces. Prints a table.

    .venv/bin/python benchmarks/atypicality_demo.py [--work DIR] [--images DIR] [--recalibrate]

1. Makes an unseen synthetic set (``make-synthetic --per-class 30 --seed 2``, the wide identity
   variation the demo bundles were trained on; seed 0 was training's) for the "typical photo" rows.
2. Uses the shipped demo bundles' own statistics (fitted by ``train`` on their training photos,
   percentiles from their held-out photos). With ``--recalibrate`` it instead calibrates a copy of
   each on a small synthetic set (``--per-class 40 --seed 1``, through ``models --calibrate``'s
   ``calibrate_bundle``; the shipped files are not touched), which shows what a small reference
   does to the false-alarm rate.
3. Makes the odd images (saved under ``--images`` to look at): a face drawn with OpenCV shapes
   (MTCNN still finds it), a photo of a photo (the portrait pasted small on a grey background with
   a frame and a shadow), a cartoon of the portrait (flat colours and black edges), and the
   portrait in sepia.
4. Screens everything with the calibrated copies (no heatmap) and prints, per model, the percentile
   of the photo's embedding distance among the calibration's held-out photos, and whether it is
   atypical (above the 99th). The numbers in docs/atypicality.md are this script's output.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BUNDLES = ("demo-hybrid", "demo-mobilenetv2", "demo-resnet18")


def drawn_face() -> np.ndarray:
    """A face of ellipses and lines on a plain background (RGB)."""
    img = np.full((480, 400, 3), (200, 215, 230), np.uint8)
    cv2.ellipse(img, (200, 250), (120, 160), 0, 0, 360, (235, 190, 160), -1)
    cv2.ellipse(img, (200, 140), (125, 80), 0, 180, 360, (90, 60, 40), -1)
    for x in (155, 245):
        cv2.ellipse(img, (x, 225), (26, 14), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(img, (x, 225), 9, (60, 40, 30), -1)
        cv2.circle(img, (x, 225), 4, (0, 0, 0), -1)
        cv2.line(img, (x - 28, 195), (x + 28, 192), (80, 55, 40), 6)
    nose = np.array([[200, 235], [188, 295], [212, 295]])
    cv2.polylines(img, [nose], False, (190, 140, 120), 3)
    cv2.ellipse(img, (200, 335), (45, 18), 0, 0, 180, (180, 70, 70), -1)
    return img


def photo_of_photo(portrait: np.ndarray) -> np.ndarray:
    """The portrait as a small print with a white border, on a grey table, slightly rotated."""
    h, w = portrait.shape[:2]
    scale = 360 / max(h, w)
    small = cv2.resize(portrait, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    framed = cv2.copyMakeBorder(small, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=(245, 245, 240))
    canvas = np.full((900, 1000, 3), 128, np.uint8)
    fh, fw = framed.shape[:2]
    y, x = (900 - fh) // 2, (1000 - fw) // 2
    cv2.rectangle(canvas, (x + 12, y + 12), (x + fw + 12, y + fh + 12), (70, 70, 70), -1)  # shadow
    canvas[y : y + fh, x : x + fw] = framed
    m = cv2.getRotationMatrix2D((500, 450), 4.0, 1.0)
    canvas = cv2.warpAffine(canvas, m, (1000, 900), borderValue=(128, 128, 128))
    noise = np.random.default_rng(0).normal(0, 3, canvas.shape)
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def cartoon(portrait: np.ndarray) -> np.ndarray:
    """Flat colours (bilateral filter, 6 levels per channel) with thick black edges."""
    smooth = portrait
    for _ in range(4):
        smooth = cv2.bilateralFilter(smooth, 9, 60, 9)
    flat = (smooth // 43) * 43 + 21
    grey = cv2.medianBlur(cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    return np.where(edges[..., None] > 0, flat, 0).astype(np.uint8)


def sepia(portrait: np.ndarray) -> np.ndarray:
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    return np.clip(portrait.astype(np.float64) @ m.T, 0, 255).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--work", type=Path, help="folder for the data and bundles (default: temporary)"
    )
    ap.add_argument("--images", type=Path, help="save the odd images here")
    ap.add_argument(
        "--recalibrate",
        action="store_true",
        help="calibrate copies on 80 synthetic photos instead of using the bundles' own statistics",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        return run(args.work or Path(tmp), args.images, args.recalibrate)


def run(work: Path, images: Path | None, recalibrate: bool = False) -> int:
    import os

    os.environ.setdefault("DYSMORPH_DESK_HOME", str(work / "home"))
    from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
    from dysmorph_desk.cli.calibrate import calibrate_bundle
    from dysmorph_desk.errors import InputRefused
    from dysmorph_desk.faces.image import load_image
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener
    from dysmorph_desk.training.datasets import read_dataset
    from dysmorph_desk.training.synthetic import make_synthetic

    work.mkdir(parents=True, exist_ok=True)
    calib, test = work / "synth-seed1", work / "synth-seed2"
    if recalibrate and not (calib / "labels.csv").exists():
        make_synthetic(calib, 40, seed=1, variation="wide")
    if not (test / "labels.csv").exists():
        make_synthetic(test, 30, seed=2, variation="wide")
    bundles, notes = [], []
    for name in BUNDLES:
        if recalibrate:
            out = work / f"{name}-calibrated.ddbundle"
            cal = calibrate_bundle(resolve_bundle(name).path, calib, out, force=True)
            notes.append(
                f"{name}: {cal.n_photos} calibration photos of {cal.n_patients} synthetic children, "
                f"shrinkage {cal.shrinkage:.4f}, 99th percentile distance {cal.p99:.2f}"
            )
            bundles.append(load_bundle(out))
            continue
        bundle = load_bundle(resolve_bundle(name).path)
        stats = (bundle.runtime or {}).get("atypicality") or {}
        notes.append(
            f"{name}: its own statistics: fitted on {stats.get('n_fit')} training photos, "
            f"percentiles from {stats.get('n_reference')} held-out photos "
            f"(shrinkage {stats.get('shrinkage')})"
        )
        bundles.append(bundle)
    screener = Screener(bundles)
    options = ScreenOptions(cam_method=None)
    portraits = {p.stem: p for p in sorted((ROOT / "resources" / "portraits").iterdir())}
    grace = load_image(portraits["grace_hopper"]).rgb
    odd = {
        "drawn face (OpenCV shapes)": drawn_face(),
        "photo of a photo (Grace Hopper)": photo_of_photo(grace),
        "cartoon (Grace Hopper)": cartoon(grace),
        "sepia (Grace Hopper)": sepia(grace),
    }
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        for label, img in odd.items():
            stem = label.split(" (")[0].replace(" ", "-")
            cv2.imwrite(str(images / f"{stem}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))

    def percentiles(source) -> list[str]:
        try:
            result = screener.screen(source, options=options)
        except InputRefused as exc:
            return [f"refused ({exc})"] * len(bundles)
        cells = []
        for r in result.results:
            a = r.atypicality
            if a is None:
                cells.append(f"cannot assess ({r.cannot_assess_reason})")
            else:
                cells.append(f"{a.percentile:.1f}" + (" **atypical**" if a.atypical else ""))
        return cells

    rows: list[tuple[str, list[str]]] = []
    test_cells: list[list[float]] = [[] for _ in bundles]
    for sample in read_dataset(test):
        try:
            result = screener.screen(sample.path, options=options)
        except InputRefused:
            continue
        for i, r in enumerate(result.results):
            if r.atypicality is not None:
                test_cells[i].append(r.atypicality.percentile)
    n_test = len(test_cells[0])
    rows.append(
        (
            f"unseen synthetic photos (seed 2, n = {n_test}): median percentile",
            [f"{statistics.median(c):.1f}" for c in test_cells],
        )
    )
    rows.append(
        (
            "unseen synthetic photos: share atypical (> 99th)",
            [f"{np.mean(np.array(c) > 99):.0%}" for c in test_cells],
        )
    )
    for stem, path in portraits.items():
        rows.append((f"sample portrait: {stem}", percentiles(path)))
    for label, img in odd.items():
        _, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        rows.append((label, percentiles(buf.tobytes())))

    print("| Photo | " + " | ".join(BUNDLES) + " |")
    print("|---|" + "---|" * len(BUNDLES))
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
