"""Two-stage decode of large JPEGs: what it changes (alignment, probabilities) and what it saves.

    .venv/bin/python benchmarks/reduced_decode.py [--runs 15] [--threads 1] [--no-sweep]

The proposal (runtime issue: "decode large JPEGs at 1/4 scale when the face stays large enough"),
prototyped here in ``two_stage_load``: decode a large JPEG for half the working long side first
(``load_image(..., working_long_side=800)``: libjpeg's DCT scaling, 1/4 of a 12 MP photo instead
of today's 1/2), detect, and keep that decode when the chosen face has at least twice the eye
distance of the aligned crop there (2 x 55 = 110 px for the 224-px crops: from there on the decode
samples the face at least twice as finely as any crop, and ``align_face`` pre-blurs on both
decodes alike); otherwise decode at the working size and detect again. "working" below is today's
path, ``Screener.screen(path)`` (= ``load_image`` + detection); "two-stage" is the prototype, its
image and faces passed to ``Screener.screen``. Both run in this one process, interleaved.

1. Quality, each sample portrait (``resources/portraits``) upscaled to 12 MP (aspect kept, cubic)
   and saved as JPEG quality 95: which decode two-stage keeps; the face's landmarks (original-photo
   px); the 224-px quality crop (mean and max |difference|, 0-255), both end to end (each path's
   own landmarks) and with the same landmarks (the decode alone); the ``face_size`` value; each
   shipped bundle's syndromic probability. A photo whose face is too small for the quick decode
   is also run with the quick decode forced (``min_iod=0``), to show what the threshold avoids.
   Noise floors: the working path on the same photo saved at quality 94 instead of 95, and on 8
   framings of it (cropped by 0-7 px at the top and left: the detector's landmarks move by several
   px with the framing, and demo-mobilenetv2 is very sensitive to that); on those framings,
   two-stage against working again (mean and max |Δp|). The models' own test-time-variant spread
   (``screening.stability``) is printed for scale.
2. Sweep (``--no-sweep`` skips it): grace_hopper scaled so the face has 45-180 px between the eyes
   at the quick scale, framed in 4000 x 3000 (edges replicated), quick decode forced against the
   working decode. The sample portraits are small (eyes ~90 px apart natively), so above ~90 px at
   the quick scale the upscaled photo holds no detail the quick decode could lose; ``--grain``
   (default 4 grey levels) adds per-pixel noise at full resolution to stand in for real skin and
   sensor detail there.
3. Time, interleaved (median of ``--runs``): the 12 MP photo -> JSON with Grad-CAM,
   demo-hybrid (``bench_screening.py`` row 4's call) on bench_screening's own 12 MP photo (grace
   hopper stretched to 4000 x 3000, quality 90) and on the portraits above (the astronaut's face is
   too small for the quick decode: that row shows what the fallback costs); decode + detect alone,
   the part that changes; decode alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = ("demo-hybrid", "demo-mobilenetv2", "demo-resnet18")
FRAMINGS = ((0, 0), (1, 0), (0, 1), (2, 2), (3, 1), (1, 3), (5, 4), (7, 7))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="timed calls per measurement (median)")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default 1)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the face-size sweep")
    ap.add_argument("--grain", type=float, default=4.0, help="sweep: noise sigma, grey levels")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="reduced-decode-home-"))
    os.environ["DYSMORPH_DESK_HOME"] = str(home)
    os.environ["DYSMORPH_DESK_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import cv2
    import numpy as np
    from PIL import Image

    from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
    from dysmorph_desk.faces.align import TEMPLATE, template_points
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.faces.image import DEFAULT_WORKING_LONG_SIDE, load_image
    from dysmorph_desk.faces.pipeline import QUALITY_SIZE
    from dysmorph_desk.faces.types import FaceInfo
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener
    from dysmorph_desk.screening.results import CaseInfo

    tmp = Path(tempfile.mkdtemp(prefix="reduced-decode-"))
    detector = FaceDetector(threads=args.threads)
    bundles = [load_bundle(resolve_bundle(n).path) for n in BUNDLES]
    screener = Screener(bundles, detector)
    hybrid = Screener([b for b in bundles if b.name == "demo-hybrid"], detector)
    case = CaseInfo(age_months=60)
    no_cam = ScreenOptions(cam_method=None)

    def aligned_iod(size: int, points) -> float:
        pts = template_points(size, np.asarray(points, np.float64))
        return float(np.linalg.norm(pts[1] - pts[0]))

    crop_iod = max(
        [aligned_iod(QUALITY_SIZE, TEMPLATE)]
        + [aligned_iod(b.card.input_size, b.card.alignment_template["points"]) for b in bundles]
    )
    threshold = 2.0 * crop_iod

    def two_stage_load(path: Path, min_iod: float = threshold):
        """The prototype: (image, faces), the quick decode kept when its face is large enough."""
        data = path.read_bytes()
        quick = load_image(data, working_long_side=DEFAULT_WORKING_LONG_SIDE // 2)
        faces = detector.detect(quick.rgb)
        if faces and faces[0].size >= min_iod:
            return quick, faces
        image = load_image(data)
        assert image.scale > quick.scale, "the photos here are all large JPEGs"
        return image, detector.detect(image.rgb)

    def save(rgb: np.ndarray, name: str, quality: int) -> Path:
        path = tmp / name
        Image.fromarray(rgb).save(path, quality=quality)
        return path

    def upscale_12mp(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        f = (12e6 / (w * h)) ** 0.5
        return cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC)

    def working(path: Path, screen: Screener = screener, options: ScreenOptions = no_cam):
        return screen.screen(path, case, options)

    def two_stage(path: Path, screen: Screener = screener, options: ScreenOptions = no_cam):
        image, faces = two_stage_load(path)
        return screen.screen(image, case, options, faces=faces)

    def forced_quick(path: Path):
        image, faces = two_stage_load(path, min_iod=0.0)
        return screener.screen(image, case, no_cam, faces=faces)

    def same_landmarks(a, image):
        """``image`` screened with ``a``'s face (the decode alone changes): landmarks mapped
        between decodes by pixel centres (libjpeg's 1/s pixel i covers original pixels
        [s*i, s*i + s), so its centre is at original s*i + (s - 1)/2)."""

        def to(points):
            full = (np.asarray(points, np.float64) + 0.5) / a.photo_scale
            return full * image.scale - 0.5

        box = to(np.reshape(a.face.box, (2, 2))).ravel()
        face = FaceInfo(box=tuple(map(float, box)), landmarks=to(a.face.landmarks), score=1.0)
        return screener.screen(image, case, no_cam, faces=[face])

    def synd(result) -> list[float]:
        return [float(r.syndromic_probability) for r in result.results]

    def compare(a, b) -> dict:
        """b against a: landmarks (original px), 224-px crops (0-255), face_size, p(syndromic)."""
        lm_a = a.face.landmarks / a.photo_scale
        lm_b = b.face.landmarks / b.photo_scale
        crop = np.abs(
            b.results[0].aligned_face.astype(np.int16) - a.results[0].aligned_face.astype(np.int16)
        )
        size_a = next(q.value for q in a.quality if q.name == "face_size")
        size_b = next(q.value for q in b.quality if q.name == "face_size")
        return {
            "scale": b.photo_scale,
            "iod_decoded": float(b.face.size),
            "lm_max": float(np.max(np.linalg.norm(lm_b - lm_a, axis=1))),
            "lm_mean": float(np.mean(np.linalg.norm(lm_b - lm_a, axis=1))),
            "iod_full": float(np.linalg.norm(lm_a[1] - lm_a[0])),
            "crop": (float(crop.mean()), int(crop.max())),
            "face_size": (size_a, size_b),
            "dp": [pb - pa for pa, pb in zip(synd(a), synd(b), strict=True)],
            "p": synd(a),
        }

    def max_dp(c: dict) -> float:
        return max(abs(v) for v in c["dp"])

    def fmt_dp(dp: list[float]) -> str:
        return " ".join(f"{v:+.4f}" for v in dp)

    print("Two-stage decode of large JPEGs: quality and time against the working-size decode")
    print(
        f"threshold: quick decode kept when the eyes are >= {threshold:.1f} px apart there "
        f"(2 x {crop_iod:.2f}, the eye distance in the 224-px crop)"
    )
    print(f"bundles: {', '.join(b.name for b in bundles)}; ONNX threads {args.threads}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other jobs share these cores)\n")

    # ---------------- 1. sample portraits at 12 MP --------------------------------------------
    print("1. Sample portraits upscaled to 12 MP, JPEG quality 95. Δ = two-stage - working;")
    print("   landmarks |Δ| in original-photo px (max, mean of the 5); crop = the 224-px quality")
    print("   crop, |Δ| 0-255 (mean/max); Δp = syndromic probability, per bundle")
    photos = {}
    for src in sorted((ROOT / "resources" / "portraits").iterdir()):
        if src.suffix.lower() not in (".jpg", ".png"):
            continue
        rgb = upscale_12mp(np.asarray(Image.open(src).convert("RGB")))
        photos[src.stem] = path = save(rgb, f"{src.stem}_12mp.jpg", 95)
        a = working(path)
        b = two_stage(path)
        c = compare(a, b)
        quick = load_image(path, working_long_side=800)
        kept = c["scale"] < a.photo_scale
        print(
            f"  {src.stem}: {rgb.shape[1]}x{rgb.shape[0]}, working decode 1/{1 / a.photo_scale:g}"
            f"; two-stage keeps the {'quick decode (1/%g)' % (1 / c['scale']) if kept else 'working decode (fallback)'}"
            f": eyes {c['iod_decoded'] if kept else c['iod_decoded'] / 2:.1f} px apart at 1/"
            f"{1 / quick.scale:g} (threshold {threshold:.0f})"
        )
        print(
            f"    p(syndromic), working: {' '.join(f'{v:.4f}' for v in c['p'])}; the models' own"
            " test-time-variant spread: " + " ".join(f"{r.stability.width:.3f}" for r in a.results)
        )
        print(
            f"    end to end:          landmarks |Δ| {c['lm_max']:5.2f} max {c['lm_mean']:5.2f} "
            f"mean (eyes {c['iod_full']:.0f} px apart); crop {c['crop'][0]:.2f}/{c['crop'][1]:<3d}; "
            f"Δp {fmt_dp(c['dp'])}; face_size {c['face_size'][0]:.1f} -> {c['face_size'][1]:.1f}"
        )
        d = compare(a, same_landmarks(a, quick))
        label = "decode alone" if kept else "decode alone, forced"
        print(
            f"    {label + ':':21s}same landmarks, quick decode vs working: crop "
            f"{d['crop'][0]:.2f}/{d['crop'][1]:<3d}; Δp {fmt_dp(d['dp'])}"
        )
        if not kept:
            f = compare(a, forced_quick(path))
            print(
                f"    quick forced, e2e:   landmarks |Δ| {f['lm_max']:5.2f} max; crop "
                f"{f['crop'][0]:.2f}/{f['crop'][1]:<3d}; Δp {fmt_dp(f['dp'])}"
            )
        q94 = compare(a, working(save(rgb, f"{src.stem}_12mp_q94.jpg", 94)))
        print(
            f"    floor, q94 vs q95:   landmarks |Δ| {q94['lm_max']:5.2f} max; crop "
            f"{q94['crop'][0]:.2f}/{q94['crop'][1]:<3d}; Δp {fmt_dp(q94['dp'])}"
        )
        # Framing: the same photo cropped by a few pixels (what a re-take or a re-crop does
        # at least). The working path's spread over these is the noise the detector's landmarks
        # and the models already have; two-stage against working on each framing is the effect.
        spread, effect, lm_work, lm_two = [], [], [], []
        for dx, dy in FRAMINGS:
            framed = save(np.ascontiguousarray(rgb[dy:, dx:]), f"{src.stem}_{dx}_{dy}.jpg", 95)
            wa, tb = working(framed), two_stage(framed)
            for r in (wa, tb):  # back to the unframed photo's original pixels
                r.face.landmarks = r.face.landmarks + np.array([dx, dy]) * r.photo_scale
            spread.append(synd(wa))
            effect.append(compare(wa, tb)["dp"])
            lm_work.append(compare(a, wa)["lm_max"])
            lm_two.append(compare(wa, tb)["lm_max"])
        ps, es = np.array(spread), np.abs(np.array(effect))
        print(
            f"    {len(FRAMINGS)} framings (photo cropped 0-{max(max(f) for f in FRAMINGS)} px "
            f"at top/left), per bundle:"
        )
        print(
            f"      working, p max-min:        {' '.join(f'{v:.4f}' for v in ps.max(0) - ps.min(0))}"
            f"   landmarks |Δ| vs unframed, max {max(lm_work):.2f} px"
        )
        print(
            f"      two-stage vs working |Δp|: {' '.join(f'{v:.4f}' for v in es.mean(0))} mean, "
            f"{' '.join(f'{v:.4f}' for v in es.max(0))} max"
            f"   landmarks |Δ| max {max(lm_two):.2f} px"
        )

    # ---------------- 2. face-size sweep -------------------------------------------------------
    if not args.no_sweep:
        print(
            "\n2. Face-size sweep: grace_hopper framed in 4000x3000 (q95), quick decode (1/4) "
            "forced vs working (1/2)."
        )
        print(
            "   eyes: px apart at 1/4. decode alone (same landmarks): crop |Δ| mean/max, max |Δp|"
            " over the bundles;"
        )
        print(f"   end to end (own landmarks): max |Δp|; grain: +N(0, {args.grain:g}) per pixel")
        src = np.asarray(Image.open(ROOT / "resources" / "portraits" / "grace_hopper.jpg"))
        native = detector.detect(src)[0].size
        rng = np.random.default_rng(0)
        grain = rng.normal(0.0, args.grain, (3000, 4000, 1)).astype(np.float32)
        print(
            f"   {'eyes':>5s} | {'plain: alone':>19s} {'e2e':>7s} | {'grain: alone':>19s} {'e2e':>7s}"
        )
        for target in (45, 60, 75, 90, 110, 140, 180):
            f = target * 4 / native
            big = cv2.resize(src, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
            h, w = big.shape[:2]
            top, left = max(0, (3000 - h) // 2), max(0, (4000 - w) // 2)
            big = cv2.copyMakeBorder(big, top, top + 1, left, left + 1, cv2.BORDER_REPLICATE)
            h, w = big.shape[:2]
            y0, x0 = (h - 3000) // 2, (w - 4000) // 2
            frame = np.ascontiguousarray(big[y0 : y0 + 3000, x0 : x0 + 4000])
            cells = []
            for noisy in (False, True):
                img = frame
                if noisy:
                    img = np.clip(frame.astype(np.float32) + grain, 0, 255).astype(np.uint8)
                path = save(img, f"sweep_{target}_{int(noisy)}.jpg", 95)
                a = working(path)
                alone = compare(a, same_landmarks(a, load_image(path, working_long_side=800)))
                e2e = compare(a, forced_quick(path))
                cells.append(
                    f"{alone['crop'][0]:5.2f}/{alone['crop'][1]:<3d} {max_dp(alone):7.4f} "
                    f"{max_dp(e2e):7.4f}"
                )
            eyes = a.face.size * 0.25 / a.photo_scale
            mark = "  (below threshold: working decode)" if eyes < threshold else ""
            print(f"   {eyes:5.0f} | {cells[0]} | {cells[1]}{mark}")

    # ---------------- 3. time ------------------------------------------------------------------
    print(f"\n3. Time, ms, median of {args.runs} (interleaved; fastest run in brackets)")
    bench_photo = tmp / "bench_12mp.jpg"  # bench_screening.make_12mp_jpeg
    bgr = cv2.imread(str(ROOT / "resources" / "portraits" / "grace_hopper.jpg"))
    cv2.imwrite(
        str(bench_photo),
        cv2.resize(bgr, (4000, 3000), interpolation=cv2.INTER_CUBIC),
        [cv2.IMWRITE_JPEG_QUALITY, 90],
    )
    cam = ScreenOptions(cam_method="gradcam")

    def interleaved(fa, fb, runs: int, warmup: int = 2) -> tuple[list[float], list[float]]:
        for _ in range(warmup):
            fa()
            fb()
        ta, tb = [], []
        for i in range(runs):
            for fn, out in ((fa, ta), (fb, tb)) if i % 2 == 0 else ((fb, tb), (fa, ta)):
                t = time.perf_counter()
                fn()
                out.append((time.perf_counter() - t) * 1000)
        return ta, tb

    def row(label: str, ta: list[float], tb: list[float]) -> None:
        ma, mb = statistics.median(ta), statistics.median(tb)
        print(
            f"  {label:52s} {ma:7.1f} [{min(ta):6.1f}] {mb:7.1f} [{min(tb):6.1f}]  "
            f"ratio {mb / ma:.2f}"
        )

    print(f"  {'':52s} {'working':>16s} {'two-stage':>16s}")
    jobs = [("bench 4000x3000 q90", bench_photo)] + [
        (f"{k} 12 MP q95", p) for k, p in photos.items()
    ]
    for label, path in jobs:
        ta, tb = interleaved(
            lambda p=path: json.dumps(working(p, hybrid, cam).to_json()),
            lambda p=path: json.dumps(two_stage(p, hybrid, cam).to_json()),
            args.runs,
        )
        row(f"photo -> JSON, demo-hybrid + Grad-CAM: {label}", ta, tb)
    for label, path in jobs:
        ta, tb = interleaved(
            lambda p=path: detector.detect(load_image(p).rgb),
            lambda p=path: two_stage_load(p),
            args.runs,
        )
        row(f"decode + detect: {label}", ta, tb)
    for label, path in jobs[:1]:
        ta, tb = interleaved(
            lambda p=path: load_image(p),
            lambda p=path: load_image(p, working_long_side=DEFAULT_WORKING_LONG_SIDE // 2),
            args.runs,
        )
        row(f"decode only (1/2 vs 1/4): {label}", ta, tb)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
