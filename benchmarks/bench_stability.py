"""What the test-time variants cost: ms per photo with and without them, per shipped bundle.

    .venv/bin/python benchmarks/bench_stability.py [--runs 15] [--threads 2]

For each demo bundle in ``models/``, side by side in one run (median of ``--runs`` after 3 warm-up
calls; the fastest run in brackets, which other jobs on the machine disturb much less):

1. the forward graph on the original face alone (batch 1), against the original and its variants
   in one batch (``screening/stability.py``: batch 4), including making the variants;
2. ``Screener.screen`` of Grace Hopper's portrait, probabilities only (``--cam none``): the card
   as shipped (the default variants) against the same bundle with ``test_time_variants:
   ["original"]`` (a torch-free copy with that one card field changed);
3. the same with the default Grad-CAM heatmap (its gradient graph runs on the original face only).

Detection is done once and reused (``faces=``), so rows 2 and 3 time alignment, quality checks,
the models and the result, not MTCNN. Prints the CPU model, its SIMD flags and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_detect import cpu_description  # noqa: E402  (one CPU description for the benchmarks)

BUNDLES = ("demo-hybrid", "demo-mobilenetv2", "demo-resnet18")


def timed(fn, runs: int, warmup: int = 3) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def cell(t: tuple[float, float]) -> str:
    return f"{t[0]:7.1f} ({t[1]:.1f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ["DYSMORPH_DESK_THREADS"] = str(args.threads)

    from dysmorph_desk.bundles.container import read_bundle, write_bundle
    from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.faces.image import load_image
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener, normalise
    from dysmorph_desk.screening.stability import (
        DEFAULT_VARIANTS,
        normalise_batch,
        variant_images,
    )

    print(f"CPU: {cpu_description()}")
    print(f"threads per graph: {args.threads}; variants: {', '.join(DEFAULT_VARIANTS)}")
    image = load_image(ROOT / "resources" / "portraits" / "grace_hopper.jpg")
    detector = FaceDetector()
    faces = detector.detect(image.rgb)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in BUNDLES:
            shipped = resolve_bundle(name).path
            contents = read_bundle(shipped)
            contents.signature = ""
            contents.manifest["test_time_variants"] = ["original"]
            plain_path = Path(tmp) / f"{name}-original-only.ddbundle"
            write_bundle(plain_path, contents)
            with_v, without = load_bundle(shipped), load_bundle(plain_path)
            card = with_v.card
            probe = Screener([with_v], detector).screen(
                image, options=ScreenOptions(cam_method=None), faces=faces
            )
            face = probe.results[0].aligned_face
            x1 = normalise(face, card.mean, card.std)

            def one(model=with_v.model, x=x1):
                model.forward(x)

            def batch(model=with_v.model, face=face, card=card):
                model.forward(normalise_batch(variant_images(face), card.mean, card.std))

            def screen(bundle, cam):
                s = Screener([bundle], detector)
                opts = ScreenOptions(cam_method=cam)
                return lambda: s.screen(image, options=opts, faces=faces)

            rows.append(
                (
                    name,
                    timed(one, args.runs),
                    timed(batch, args.runs),
                    timed(screen(without, None), args.runs),
                    timed(screen(with_v, None), args.runs),
                    timed(screen(without, "gradcam"), args.runs),
                    timed(screen(with_v, "gradcam"), args.runs),
                )
            )
    print()
    print("ms per photo, median (fastest)")
    head = (
        "bundle",
        "forward x1",
        f"forward x{len(DEFAULT_VARIANTS)}",
        "screen, no CAM, x1",
        f"screen, no CAM, x{len(DEFAULT_VARIANTS)}",
        "screen, Grad-CAM, x1",
        f"screen, Grad-CAM, x{len(DEFAULT_VARIANTS)}",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, *cells in rows:
        print(f"| {name} | " + " | ".join(cell(c) for c in cells) + " |")
    print()
    for name, f1, f4, s1, s4, g1, g4 in rows:
        print(
            f"{name}: variants add {f4[0] - f1[0]:.1f} ms to the forward (x{f4[0] / f1[0]:.2f}), "
            f"{s4[0] - s1[0]:.1f} ms to a probability-only screening, "
            f"{g4[0] - g1[0]:.1f} ms to one with Grad-CAM"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
