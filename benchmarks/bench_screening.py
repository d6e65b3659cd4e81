"""Screening speed on this machine: median per stage and end to end. Prints a table.

    .venv/bin/python benchmarks/bench_screening.py [--repeats N]

Stages: reduced-size decode of a 12 MP JPEG; MTCNN detection + alignment on it; the hybrid's
forward pass (eager, and TorchScript-frozen for inference); Grad-CAM (forward + backward, which also
yields the probabilities); the marginal cost of one more photo in a batch ``screen --no-report``
(decode, detect, align, hybrid, Grad-CAM, JSON); one PDF report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def make_12mp_jpeg(folder: Path) -> Path:
    from dysmorph_desk.utils import resources

    with resources.as_path(resources.resource("portraits", "grace_hopper.jpg")) as p:
        img = Image.open(p).convert("RGB")
    canvas = Image.new("RGB", (4000, 3000), (90, 110, 130))
    face = img.resize((img.width * 3, img.height * 3), Image.LANCZOS)
    canvas.paste(face, (1200, 600))
    out = folder / "photo_12mp.jpg"
    canvas.save(out, quality=90)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    os.environ.setdefault("DYSMORPH_DESK_HOME", tempfile.mkdtemp())
    import torch

    from dysmorph_desk.bundles.format import DEFAULT_BUNDLE, load_bundle, resolve_bundle
    from dysmorph_desk.explain.cam import compute_cam
    from dysmorph_desk.faces.align import align_face
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.faces.image import load_image
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.report.render import report_bytes
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener, to_tensor
    from dysmorph_desk.screening.results import CaseInfo

    rows: list[tuple[str, float, str]] = []
    tmp = Path(tempfile.mkdtemp())
    photo = make_12mp_jpeg(tmp)
    bundle = load_bundle(resolve_bundle(DEFAULT_BUNDLE).path)
    detector = FaceDetector()

    rows.append(
        (
            "decode 12 MP JPEG (draft)",
            median_ms(lambda: load_image(photo), args.repeats),
            "goal ~42",
        )
    )
    img = load_image(photo)

    def detect_align():
        f = detector.detect(img.rgb)[0]
        align_face(img.rgb, f.landmarks, 224)

    rows.append(
        (
            "detect + align (12 MP, decoded)",
            median_ms(detect_align, args.repeats),
            "≤ 80 incl. decode",
        )
    )
    rows.append(
        (
            "decode + detect + align 12 MP",
            median_ms(
                lambda: (lambda im: align_face(im.rgb, detector.detect(im.rgb)[0].landmarks, 224))(
                    load_image(photo)
                ),
                args.repeats,
            ),
            "≤ 80",
        )
    )

    face = detector.detect(img.rgb)[0]
    aligned = align_face(img.rgb, face.landmarks, 224).image
    x = to_tensor(aligned, bundle.card.mean, bundle.card.std, "cpu")
    model = bundle.model

    def eager():
        with torch.inference_mode():
            model(x)

    rows.append(("hybrid forward, eager fp32", median_ms(eager, args.repeats * 3), "≤ 10"))
    from dysmorph_desk.screening.fastpath import inference_model

    fast = inference_model(bundle)

    def frozen():
        with torch.inference_mode():
            fast(x)

    rows.append(("hybrid forward, frozen TorchScript", median_ms(frozen, args.repeats * 3), "≤ 10"))
    layer = get_arch(bundle.card.architecture).target_layer(model)
    rows.append(
        (
            "Grad-CAM (forward+backward, gives probs)",
            median_ms(lambda: compute_cam(model, layer, x), args.repeats),
            "~37",
        )
    )

    screener = Screener([bundle], detector)
    photos = []
    for i in range(args.repeats + 1):
        p = tmp / f"p{i}.jpg"
        p.write_bytes(photo.read_bytes())
        photos.append(p)
    screener.screen(photos[0], CaseInfo(age_months=60))
    t = time.perf_counter()
    result = None
    for p in photos[1:]:
        result = screener.screen(p, CaseInfo(age_months=60), ScreenOptions())
        json.dumps(result.to_json())
    rows.append(
        (
            "marginal photo in batch screen --no-report",
            (time.perf_counter() - t) * 1000 / args.repeats,
            "≤ 150",
        )
    )
    rows.append(
        (
            "PDF report (render to bytes)",
            median_ms(lambda: report_bytes(result), args.repeats),
            "≤ 300",
        )
    )

    print(
        f"DysmorphDesk screening benchmark — torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"bundle {bundle.name} ({bundle.card.architecture})"
    )
    print(f"{'stage':45s} {'median ms':>10s}  goal (ms)")
    for name, ms, goal in rows:
        print(f"{name:45s} {ms:10.1f}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
