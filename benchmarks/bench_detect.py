"""Face detection speed: facenet-pytorch's MTCNN (the old detector) beside the ONNX Runtime cascade.

    .venv/bin/python benchmarks/bench_detect.py [--repeats 15] [--threads 2]

Median milliseconds over ``--repeats`` runs (after two warm-up runs) on a 12 MP JPEG made by
upscaling a shipped portrait (as benchmarks/bench_screening.py does), decoded by ``load_image`` as
the app does (libjpeg at 1/2 scale: 2000x1500):

* MTCNN on the 480-px working image (min face 40): what ``FaceDetector`` runs first;
* MTCNN on the 1024-px working image (min face 20): the retry pass;
* ``FaceDetector.detect`` end to end (downscale included) on that photo, and on a second 12 MP photo
  whose face is too small for the first pass, so the retry runs too;
* ``align_face`` (224 px) on the full 12 MP photo: the anti-aliasing blur of the whole photo (before)
  against the blur of the sampled region only (now).

Both detectors use ``--threads`` threads (torch.set_num_threads / ORT intra-op threads); ONNX with one
thread is printed too. Prints the CPU model, its SIMD flags and the load average, since other
processes on a shared machine move these numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def median_ms(fns: Sequence[Callable[[], object]], repeats: int, warmup: int = 2) -> list[float]:
    """Median ms of each function, one after the other (warm-up runs first, a pause between).

    Not interleaved: torch's OpenMP workers keep spinning for a while after each call and would
    slow whatever runs next on a machine with few cores.
    """
    medians = []
    for fn in fns:
        time.sleep(0.3)
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        medians.append(statistics.median(times))
    return medians


def cpu_description() -> str:
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    have = [f for f in SIMD_FLAGS if f in flags]
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{model}, {os.cpu_count()} logical CPUs; flags: {' '.join(have) or '?'}; load {load}"


def make_12mp_jpeg(folder: Path, face_scale: float, name: str) -> Path:
    """Grace Hopper's portrait scaled by ``face_scale`` on a 4000x3000 canvas, saved as JPEG."""
    from dysmorph_desk.utils import resources

    with resources.as_path(resources.resource("portraits", "grace_hopper.jpg")) as p:
        img = Image.open(p).convert("RGB")
    canvas = Image.new("RGB", (4000, 3000), (90, 110, 130))
    size = (round(img.width * face_scale), round(img.height * face_scale))
    canvas.paste(img.resize(size, Image.Resampling.LANCZOS), (1200, 600))
    out = folder / name
    canvas.save(out, quality=90)
    return out


def working(rgb: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    factor = min(1.0, long_side / max(h, w))
    size = (round(w * factor), round(h * factor))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), factor


class FacenetDetector:
    """The previous ``FaceDetector``: facenet-pytorch's MTCNN, same settings and two passes."""

    def __init__(self) -> None:
        from facenet_pytorch import MTCNN

        from dysmorph_desk.faces.detect import DetectorSettings

        self.settings = s = DetectorSettings()
        self.mtcnn = MTCNN(
            keep_all=True,
            min_face_size=s.min_face_px,
            thresholds=list(s.thresholds),
            post_process=False,
            device="cpu",
        )

    def mtcnn_detect(self, small: np.ndarray, min_face: int):
        import torch

        self.mtcnn.min_face_size = min_face
        with torch.inference_mode():
            return self.mtcnn.detect(small, landmarks=True)

    def detect(self, rgb: np.ndarray) -> int:
        s = self.settings
        for long_side, min_face in (
            (s.detect_long_side, s.first_min_face_px),
            (s.retry_long_side, s.min_face_px),
        ):
            small, _ = working(rgb, long_side)
            boxes, probs, _ = self.mtcnn_detect(np.ascontiguousarray(small), min_face)
            if boxes is not None and any(p >= s.min_score for p in probs):
                return int(sum(p >= s.min_score for p in probs))
        return 0


def align_whole_image_blur(rgb: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """``align_face`` as it was: blur the whole photo, then warp."""
    from dysmorph_desk.faces.align import similarity_transform, template_points

    matrix = similarity_transform(landmarks, template_points(size))
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    src = rgb if scale >= 0.5 else cv2.GaussianBlur(rgb, (0, 0), sigmaX=0.5 / scale * 0.5)
    return cv2.warpAffine(
        src, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("DYSMORPH_DESK_HOME", tempfile.mkdtemp())

    import onnxruntime
    import torch

    from dysmorph_desk.faces.align import align_face
    from dysmorph_desk.faces.detect import DetectorSettings, FaceDetector
    from dysmorph_desk.faces.image import load_image
    from dysmorph_desk.faces.mtcnn import MTCNN

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    s = DetectorSettings()
    print(f"CPU: {cpu_description()}")
    print(
        f"torch {torch.__version__} ({args.threads} threads), onnxruntime {onnxruntime.__version__}, "
        f"OpenCV {cv2.__version__}; median of {args.repeats} runs, ms\n"
    )

    with tempfile.TemporaryDirectory() as tmp:
        big = make_12mp_jpeg(Path(tmp), 3.0, "photo_12mp.jpg")
        small_face = make_12mp_jpeg(Path(tmp), 0.5, "photo_12mp_small_face.jpg")
        full = np.asarray(Image.open(big).convert("RGB"))
        decoded, decoded_small_face = load_image(big), load_image(small_face)
    photo, photo_small_face = decoded.rgb, decoded_small_face.rgb

    old = FacenetDetector()
    new = FaceDetector(threads=args.threads)
    new1 = FaceDetector(threads=1)
    onnx_n, onnx_1 = MTCNN(s.thresholds, threads=args.threads), MTCNN(s.thresholds, threads=1)
    assert len(new.detect(photo)) == old.detect(photo) == 1
    assert new._detect_at(photo_small_face, s.detect_long_side, s.first_min_face_px) == []
    assert len(new.detect(photo_small_face)) == old.detect(photo_small_face) == 1

    w480, _ = working(photo, s.detect_long_side)
    w1024, _ = working(photo, s.retry_long_side)
    size = f"{photo.shape[1]}x{photo.shape[0]}"
    rows: list[tuple[str, list[Callable[[], object]]]] = [
        (
            f"MTCNN, {w480.shape[1]}x{w480.shape[0]} working image, min face {s.first_min_face_px}",
            [
                lambda: old.mtcnn_detect(w480, s.first_min_face_px),
                lambda: onnx_n.detect(w480, s.first_min_face_px),
                lambda: onnx_1.detect(w480, s.first_min_face_px),
            ],
        ),
        (
            f"MTCNN, {w1024.shape[1]}x{w1024.shape[0]} retry image, min face {s.min_face_px}",
            [
                lambda: old.mtcnn_detect(w1024, s.min_face_px),
                lambda: onnx_n.detect(w1024, s.min_face_px),
                lambda: onnx_1.detect(w1024, s.min_face_px),
            ],
        ),
        (
            f"FaceDetector.detect, 12 MP JPEG decoded {size}",
            [lambda: old.detect(photo), lambda: new.detect(photo), lambda: new1.detect(photo)],
        ),
        (
            f"  same, small face (first pass + retry), {size}",
            [
                lambda: old.detect(photo_small_face),
                lambda: new.detect(photo_small_face),
                lambda: new1.detect(photo_small_face),
            ],
        ),
    ]
    print(
        f"{'':56s} {'facenet-pytorch':>15s} {f'ONNX {args.threads} thr':>11s} {'ONNX 1 thr':>11s}"
        f" {'speed-up':>9s}"
    )
    for label, fns in rows:
        t_old, t_new, t_new1 = median_ms(fns, args.repeats)
        print(
            f"{label:56s} {t_old:15.1f} {t_new:11.1f} {t_new1:11.1f} {t_old / min(t_new, t_new1):8.1f}x"
        )

    landmarks = new.detect(full)[0].landmarks
    diff = np.abs(
        align_whole_image_blur(full, landmarks, 224).astype(int)
        - align_face(full, landmarks, 224).image
    ).max()
    t_whole, t_region = median_ms(
        [
            lambda: align_whole_image_blur(full, landmarks, 224),
            lambda: align_face(full, landmarks, 224),
        ],
        args.repeats,
    )
    print(
        f"\n{f'align_face 224 px, full {full.shape[1]}x{full.shape[0]} photo':56s}"
        f" {'whole blur':>15s} {'region blur':>11s}\n"
        f"{f'  (max difference {diff} grey levels)':56s} {t_whole:15.1f} {t_region:11.1f}"
        f" {'':11s} {t_whole / t_region:8.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
