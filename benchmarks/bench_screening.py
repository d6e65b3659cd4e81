"""Screening speed: the ONNX Runtime path against the PyTorch reference, side by side. Prints a table.

    .venv/bin/python benchmarks/bench_screening.py [--runs 15] [--threads 2] [--profile]

Rows (median of ``--runs`` calls after warm-up, unless said otherwise):

1. forward, batch 1, for each demo bundle in ``models/``: ONNX (``load_bundle``) against the
   PyTorch reference (``training.bundle_io.load_torch_bundle``, eager); and the largest difference
   of the class probabilities between the two.
2. Grad-CAM: ONNX gradient graph + ``explain.numpy_cam`` against ``training.torch_cam.compute_cam``
   on the torch module (one forward + backward); and the largest difference of the heatmaps.
3. MTCNN on the 480-px working image (first detection pass, min face 40 px): the ONNX
   ``FaceDetector`` against facenet-pytorch's ``MTCNN`` with the same settings.
4. The marginal 12 MP photo in a batch, decode -> JSON with Grad-CAM: ``Screener.screen(path)`` +
   ``json.dumps(result.to_json())``, default model (demo-hybrid), ONNX bundles + ONNX detector
   against torch bundles + facenet-pytorch MTCNN (the round-1 stack, "today"); also torch bundles
   + ONNX detector (what ``screen --runtime torch`` runs now), and all three bundles.
5. A cold process, ``dysmorph-desk screen ONE.jpg --json - --no-report``, ``--runtime onnx`` against
   ``--runtime torch`` (median of 5 after one unclocked run that warms the disk cache): wall time
   and peak RSS (``/usr/bin/time -f %M`` of that child).
6. ``python -c "import onnxruntime, cv2, PIL, numpy"`` against
   ``python -c "import torch, torchvision, facenet_pytorch"`` (median of 3, fresh processes).

The 12 MP photo is ``resources/portraits/grace_hopper.jpg`` upscaled to 4000 x 3000 with OpenCV.
Both sides run with ``--threads`` threads (``DYSMORPH_DESK_THREADS``, ``OMP_NUM_THREADS`` and
``torch.set_num_threads``) and in separate phases: every ONNX measurement first, before torch is
even imported (so the ONNX sessions are configured exactly as in a torch-free runtime install),
then every torch one. Interleaving them would let one runtime's spin-waiting threads steal the
other's cores. Each row also shows the fastest run of each side: on a machine shared with other
jobs the median includes their interference, the fastest run much less. ``--profile`` adds an ONNX Runtime profile of the hybrid's gradient graph (node count,
time per operator type).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEMO_BUNDLES = ("demo-hybrid", "demo-mobilenetv2", "demo-resnet18")
HYBRID = "demo-hybrid"


# --- measuring ----------------------------------------------------------------------------------


class Ms(float):
    """A median in ms that also carries the fastest run (robust to other jobs' load)."""

    best: float

    def __new__(cls, median: float, best: float) -> Ms:
        obj = super().__new__(cls, median)
        obj.best = best
        return obj


def median_ms(fn, runs: int, warmup: int = 3) -> Ms:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return Ms(statistics.median(times), min(times))


def settle() -> None:
    """Between phases: let spinning worker threads (OpenMP, ORT) go back to sleep."""
    time.sleep(0.5)


def cpu_summary() -> str:
    flags: set[str] = set()
    model = platform.processor() or "?"
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            if line.startswith("model name") and model in ("?", ""):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    wanted = ["avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"]
    shown = " ".join(f"{f}={'yes' if f in flags else 'no'}" for f in wanted)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 0
    return f"CPU: {model}, {cores} cores usable; {shown}"


def loadavg() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:
        return "?"


@dataclass
class Row:
    stage: str
    onnx: float | None
    torch: float | None
    goal: str = ""
    met: str = ""
    note: str = ""
    unit: str = "ms"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def print(self) -> None:
        head = (
            f"{'stage':44s} {'ONNX':>8s} {'torch':>8s} {'ratio':>6s} {'(fastest':>8s} "
            f"{'runs)':>7s}  {'goal':24s} {'met':4s} note"
        )
        print(head)
        print("-" * len(head))
        for r in self.rows:

            def fmt(v: float | None, unit: str = r.unit) -> str:
                if v is None:
                    return "—"
                if unit == "ms":
                    return f"{v:.1f}" if v < 1000 else f"{v:.0f}"
                if unit == "s":
                    return f"{v:.2f}"
                return f"{v:.0f}"

            ratio = f"{r.onnx / r.torch:.2f}" if r.onnx is not None and r.torch else "—"
            best_o, best_t = getattr(r.onnx, "best", None), getattr(r.torch, "best", None)
            unit = "" if r.unit == "ms" else f" {r.unit}"
            print(
                f"{r.stage + unit:44s} {fmt(r.onnx):>8s} {fmt(r.torch):>8s} {ratio:>6s} "
                f"{fmt(best_o):>8s} {fmt(best_t):>7s}  {r.goal:24s} {r.met:4s} {r.note}"
            )
        for n in self.notes:
            print(n)


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- inputs -------------------------------------------------------------------------------------


def make_12mp_jpeg(folder: Path) -> Path:
    import cv2

    bgr = cv2.imread(str(ROOT / "resources" / "portraits" / "grace_hopper.jpg"))
    big = cv2.resize(bgr, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    out = folder / "photo_12mp.jpg"
    cv2.imwrite(str(out), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return out


def working_480(rgb):
    """The first detection pass's input: long side 480, INTER_AREA (as ``FaceDetector``)."""
    import cv2

    h, w = rgb.shape[:2]
    factor = min(1.0, 480 / max(h, w))
    if factor >= 1.0:
        return rgb
    return cv2.resize(rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)


class FacenetDetector:
    """Round 1's detector (facenet-pytorch MTCNN), same settings and passes as ``FaceDetector``."""

    def __init__(self, settings) -> None:
        from facenet_pytorch import MTCNN

        self.settings = settings
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=settings.min_face_px,
            thresholds=list(settings.thresholds),
            post_process=False,
            device="cpu",
        )
        self._lock = threading.Lock()

    def detect(self, rgb):
        s = self.settings
        faces = self._detect_at(rgb, s.detect_long_side, s.first_min_face_px)
        if not faces:
            faces = self._detect_at(rgb, s.retry_long_side, s.min_face_px)
        return faces

    def _detect_at(self, rgb, long_side: int, min_face: int):
        import cv2
        import numpy as np
        import torch

        from dysmorph_desk.faces.types import FaceInfo

        h, w = rgb.shape[:2]
        factor = min(1.0, long_side / max(h, w))
        small = (
            rgb
            if factor >= 1.0
            else cv2.resize(
                rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA
            )
        )
        with self._lock, torch.inference_mode():
            self._mtcnn.min_face_size = min_face
            boxes, probs, points = self._mtcnn.detect(np.ascontiguousarray(small), landmarks=True)
        if boxes is None or points is None:
            return []
        faces = []
        for box, prob, pts in zip(boxes, probs, points, strict=False):
            if prob is None or not np.isfinite(prob) or prob < self.settings.min_score:
                continue
            b = np.asarray(box, dtype=np.float64) / factor
            p = np.asarray(pts, dtype=np.float64).reshape(5, 2) / factor
            faces.append(FaceInfo(box=tuple(float(v) for v in b), landmarks=p, score=float(prob)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces


# --- ONNX Runtime profile of the hybrid's gradient graph ----------------------------------------


def profile_gradient(path: Path, x, target: int, num_classes: int, threads: int, runs: int) -> None:
    """Node count and time per operator type of the gradient graph, from ORT's own profiler."""
    from collections import Counter, defaultdict

    import numpy as np
    import onnx
    import onnxruntime as ort

    from dysmorph_desk.bundles.container import read_bundle
    from dysmorph_desk.bundles.format import read_header
    from dysmorph_desk.bundles.sessions import check_graph

    info = read_header(path)
    contents = read_bundle(path)
    for name in ("gradient", "forward"):
        data = contents.graphs[name]
        model = onnx.load_from_string(data)
        ops = Counter(n.op_type for n in model.graph.node)
        externals = check_graph(
            name, data, info.card, contents.runtime, contents.weights, path.name
        )
        arrays = [np.ascontiguousarray(contents.weights[k], dtype=np.float32) for k in externals]
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tempfile.mkdtemp()) / f"ort_{name}")
        opts.add_external_initializers(
            externals, [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays]
        )
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        onehot = np.zeros((1, num_classes), np.float32)
        onehot[0, target] = 1.0
        feed = {"image": x} if name == "forward" else {"image": x, "onehot": onehot}
        for _ in range(3):
            sess.run(None, feed)
        t = time.perf_counter()
        for _ in range(runs):
            sess.run(None, feed)
        wall = (time.perf_counter() - t) * 1000 / runs
        prof = Path(sess.end_profiling())
        events = json.loads(prof.read_text())
        per_op: dict[str, float] = defaultdict(float)
        per_node: dict[tuple[str, str], float] = defaultdict(float)
        executed = set()
        model_runs = [e for e in events if e.get("name") == "model_run"]
        n_runs = max(1, len(model_runs))
        for e in events:
            if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
                continue
            op = e.get("args", {}).get("op_name", "?")
            node = e["name"][: -len("_kernel_time")]
            executed.add(node)
            per_op[op] += e["dur"] / 1000
            per_node[(node, op)] += e["dur"] / 1000
        total = sum(per_op.values())
        print(
            f"\n{path.stem} {name} graph: {len(model.graph.node)} nodes in the file "
            f"({len(ops)} op types: {', '.join(f'{k} {v}' for k, v in ops.most_common(12))}"
            f"{', ...' if len(ops) > 12 else ''}); {len(executed)} nodes after ORT's optimisation; "
            f"{wall:.1f} ms a run with profiling; kernels {total / n_runs:.1f} ms a run"
        )
        print(f"  {'op type':28s} {'ms/run':>7s} {'share':>6s}")
        for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])[:12]:
            print(f"  {op:28s} {ms / n_runs:7.2f} {100 * ms / total:5.1f}%")
        print("  slowest nodes:")
        for (node, op), ms in sorted(per_node.items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {node[:60]:60s} {op:14s} {ms / n_runs:6.2f} ms")
        prof.unlink(missing_ok=True)


# --- subprocess measurements --------------------------------------------------------------------


TIME = Path("/usr/bin/time")


def run_child(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, int, str, str]:
    """(wall s, peak RSS bytes, exit code, stdout, stderr) of one fresh process.

    The peak RSS comes from ``/usr/bin/time -f %M`` where it exists: ``os.wait4``'s ``ru_maxrss``
    of a child of this (big) process can report this process's RSS, which the child inherits
    between fork and exec. Without ``/usr/bin/time`` that number is used, and may be too high.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file,
    ):
        full = [str(TIME), "-f", "%M", "-o", rss_file.name, *cmd] if TIME.exists() else cmd
        t = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024
        if TIME.exists():
            text = rss_file.read().strip().splitlines()
            if text and text[-1].isdigit():
                peak = int(text[-1]) * 1024
        out.seek(0)
        err.seek(0)
        return (
            wall,
            peak,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def cold_screen(photo: Path, runtime: str, env: dict[str, str], runs: int):
    cmd = [
        str(VENV_BIN / "dysmorph-desk"),
        "screen",
        str(photo),
        "--json",
        "-",
        "--no-report",
        "--runtime",
        runtime,
    ]
    run_child(cmd, env, photo.parent)  # unclocked: disk cache, first-run files
    walls, rss = [], []
    for _ in range(runs):
        wall, peak, rc, out, err = run_child(cmd, env, photo.parent)
        if rc != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {rc}: {err.strip()[-1500:]}")
        json.loads(out)
        walls.append(wall)
        rss.append(peak)
    return Ms(statistics.median(walls), min(walls)), max(rss), out


def import_time(modules: str, env: dict[str, str], runs: int = 3) -> float:
    cmd = [sys.executable, "-c", f"import {modules}" if modules else "pass"]
    walls = [run_child(cmd, env, ROOT)[0] for _ in range(runs)]
    return Ms(statistics.median(walls), min(walls))


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="timed calls per measurement (median)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both runtimes (default 2)")
    ap.add_argument("--cold-runs", type=int, default=5, help="fresh processes per runtime (median)")
    ap.add_argument("--profile", action="store_true", help="profile the hybrid's ONNX graphs too")
    ap.add_argument("--skip-cold", action="store_true", help="skip the subprocess rows (5 and 6)")
    args = ap.parse_args()
    n = args.threads
    home = Path(tempfile.mkdtemp(prefix="bench-screening-home-"))
    os.environ["DYSMORPH_DESK_HOME"] = str(home)
    os.environ["DYSMORPH_DESK_THREADS"] = str(n)
    os.environ["OMP_NUM_THREADS"] = str(n)  # torch's intra-op default, here and in children
    os.environ.setdefault("MPLCONFIGDIR", str(home / "mpl"))

    import numpy as np
    import onnxruntime as ort

    from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
    from dysmorph_desk.explain.numpy_cam import cam_from_gradients
    from dysmorph_desk.faces.align import align_face
    from dysmorph_desk.faces.detect import DetectorSettings, FaceDetector
    from dysmorph_desk.faces.image import load_image
    from dysmorph_desk.screening.options import ScreenOptions
    from dysmorph_desk.screening.pipeline import Screener, normalise, softmax
    from dysmorph_desk.screening.results import CaseInfo

    print("DysmorphDesk screening benchmark: ONNX Runtime vs the PyTorch reference")
    print(cpu_summary())
    print(f"load average at start: {loadavg()} (other jobs share these cores)")
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    if os.getloadavg()[0] + n > usable + 0.5:
        print(
            f"note: load {os.getloadavg()[0]:.1f} + {n} threads > {usable} cores: threads will be "
            "preempted; barrier-heavy OpenMP (torch) suffers most. Compare with --threads 1."
        )
    print(
        f"python {platform.python_version()}, onnxruntime {ort.__version__}, numpy {np.__version__}; "
        f"{n} threads each side; median of {args.runs} runs"
    )
    report = Report()
    tmp = Path(tempfile.mkdtemp(prefix="bench-screening-"))
    photo = make_12mp_jpeg(tmp)
    case = CaseInfo(age_months=60)
    options = ScreenOptions(cam_method="gradcam")

    # ---------------- phase 1: ONNX Runtime (torch not imported) --------------------------------
    t_phase = time.perf_counter()
    infos = {name: resolve_bundle(name) for name in DEMO_BUNDLES}
    onnx_bundles = {
        name: load_bundle(info.path, source=info.source) for name, info in infos.items()
    }
    detector = FaceDetector(threads=n)
    image = load_image(photo)
    small = working_480(image.rgb)
    face = detector.detect(image.rgb)[0]
    inputs, onnx_out = {}, {}
    fwd_ms, cam_ms = {}, {}
    for name, b in onnx_bundles.items():
        card = b.card
        aligned = align_face(
            image.rgb,
            face.landmarks,
            card.input_size,
            np.asarray(card.alignment_template["points"]),
        )
        x = normalise(aligned.image, card.mean, card.std)
        inputs[name] = x
        fwd = b.model.forward(x)
        target = int(np.argmax(fwd.logits[0]))
        size, classes = card.input_size, len(card.classes)

        def onnx_cam(b=b, x=x, target=target, size=size, classes=classes):
            g = b.model.gradient(x, target, classes)
            return cam_from_gradients("gradcam", g.activations[0], g.gradients[0], size)

        fwd_ms[name] = median_ms(lambda b=b, x=x: b.model.forward(x), args.runs)
        cam_ms[name] = median_ms(onnx_cam, args.runs)
        onnx_out[name] = (softmax(fwd.logits[0], 1.0), onnx_cam().heat, target)
    onnx_faces = detector.detect(small)
    mtcnn_onnx = median_ms(lambda: detector.detect(small), args.runs)

    def screen_ms(screener) -> float:
        def once():
            result = screener.screen(photo, case, options)
            json.dumps(result.to_json())

        return median_ms(once, args.runs, warmup=2)

    screen_onnx = screen_ms(Screener([onnx_bundles[HYBRID]], detector))
    screen_onnx_all = screen_ms(Screener(list(onnx_bundles.values()), detector))
    onnx_phase_s = time.perf_counter() - t_phase
    if "torch" in sys.modules:
        report.notes.append("WARNING: torch was imported during the ONNX phase")
    settle()

    # ---------------- phase 2: PyTorch ---------------------------------------------------------
    t_phase = time.perf_counter()
    import torch

    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # already set once in this process
        torch.set_num_interop_threads(1)
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.training.bundle_io import load_torch_bundle
    from dysmorph_desk.training.torch_cam import compute_cam

    torch_bundles = {
        name: load_torch_bundle(info.path, source=info.source) for name, info in infos.items()
    }
    tfwd_ms, tcam_ms, tref_cam_ms = {}, {}, {}
    for name, b in torch_bundles.items():
        x = inputs[name]
        xt = torch.from_numpy(x)
        module = b.model.model
        layer = get_arch(b.card.architecture).target_layer(module)
        probs_onnx, heat_onnx, target = onnx_out[name]
        tfwd_ms[name] = median_ms(lambda b=b, x=x: b.model.forward(x), args.runs)
        tcam_ms[name] = median_ms(
            lambda m=module, layer=layer, xt=xt: compute_cam(m, layer, xt), args.runs
        )
        size, classes = b.card.input_size, len(b.card.classes)

        def ref_cam(b=b, x=x, target=target, size=size, classes=classes):
            g = b.model.gradient(x, target, classes)
            return cam_from_gradients("gradcam", g.activations[0], g.gradients[0], size)

        tref_cam_ms[name] = median_ms(ref_cam, max(3, args.runs // 3), warmup=1)
        probs_torch = softmax(b.model.forward(x).logits[0], 1.0)
        cam = compute_cam(module, layer, xt, target_index=target)
        dp = float(np.max(np.abs(probs_onnx - probs_torch)))
        dh = float(np.max(np.abs(heat_onnx - cam.heat)))
        onnx_out[name] = (dp, dh)

    settings = DetectorSettings()
    facenet = FacenetDetector(settings)
    facenet_faces = facenet.detect(small)
    mtcnn_torch = median_ms(lambda: facenet.detect(small), args.runs)
    screen_today = screen_ms(Screener([torch_bundles[HYBRID]], facenet))
    screen_torch_onnxdet = screen_ms(Screener([torch_bundles[HYBRID]], detector))
    screen_today_all = screen_ms(Screener(list(torch_bundles.values()), facenet))
    torch_phase_s = time.perf_counter() - t_phase
    settle()

    # ---------------- rows 1-4 ----------------------------------------------------------------
    for name in DEMO_BUNDLES:
        dp, _ = onnx_out[name]
        goal = "≤ 3 (2 threads)" if name == HYBRID else ""
        met = verdict(fwd_ms[name] <= 3) if name == HYBRID else ""
        report.add(
            Row(
                f"1 forward b1 {name}", fwd_ms[name], tfwd_ms[name], goal, met, f"max |Δp| {dp:.1e}"
            )
        )
    for name in DEMO_BUNDLES:
        _, dh = onnx_out[name]
        limit = 12 if name == HYBRID else 5
        report.add(
            Row(
                f"2 Grad-CAM {name}",
                cam_ms[name],
                tcam_ms[name],
                f"≤ {limit}",
                verdict(cam_ms[name] <= limit),
                f"max |Δheat| {dh:.1e}; --runtime torch's Grad-CAM {tref_cam_ms[name]:.1f}",
            )
        )
    box_diff = (
        float(np.max(np.abs(np.subtract(onnx_faces[0].box, facenet_faces[0].box))))
        if onnx_faces and facenet_faces
        else float("nan")
    )
    report.add(
        Row(
            f"3 MTCNN {small.shape[1]}x{small.shape[0]} (min face 40)",
            mtcnn_onnx,
            mtcnn_torch,
            "≤ 15",
            verdict(mtcnn_onnx <= 15),
            f"faces {len(onnx_faces)}/{len(facenet_faces)}, max |Δbox| {box_diff:.1e} px",
        )
    )
    r4 = screen_onnx / screen_today
    report.add(
        Row(
            "4 12 MP photo -> JSON, demo-hybrid",
            screen_onnx,
            screen_today,
            "≤ 50 and ≤ 0.55× today",
            verdict(screen_onnx <= 50 and r4 <= 0.55),
            "torch = torch bundle + facenet MTCNN",
        )
    )
    report.add(
        Row(
            "4b  … torch bundle + ONNX MTCNN",
            screen_onnx,
            screen_torch_onnxdet,
            "",
            "",
            "= screen --runtime torch now",
        )
    )
    report.add(
        Row(
            "4c  … all three demo bundles",
            screen_onnx_all,
            screen_today_all,
            "",
            "",
            "torch = torch bundles + facenet MTCNN",
        )
    )

    # ---------------- rows 5-6: fresh processes -------------------------------------------------
    if not args.skip_cold:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        env.pop("PYTHONPATH", None)
        cold_onnx, rss_onnx, _ = cold_screen(photo, "onnx", env, args.cold_runs)
        settle()
        cold_torch, rss_torch, _ = cold_screen(photo, "torch", env, args.cold_runs)
        r5 = cold_onnx / cold_torch
        report.add(
            Row(
                "5 cold `screen --json - --no-report`",
                cold_onnx,
                cold_torch,
                "≤ 1.0 and ≤ 0.35× today",
                verdict(cold_onnx <= 1.0 and r5 <= 0.35),
                f"median of {args.cold_runs}, 12 MP photo",
                unit="s",
            )
        )
        report.add(
            Row(
                "5 cold screen, peak RSS",
                rss_onnx / 1e6,
                rss_torch / 1e6,
                "≤ 250 (950 today)",
                verdict(rss_onnx / 1e6 <= 250),
                "max over the runs",
                unit="MB",
            )
        )
        base = import_time("", env)
        imp_onnx = import_time("onnxruntime, cv2, PIL, numpy", env)
        settle()
        imp_torch = import_time("torch, torchvision, facenet_pytorch", env)
        report.add(
            Row(
                "6 import (onnxruntime,cv2,PIL,numpy | torch,…)",
                imp_onnx,
                imp_torch,
                "",
                "",
                f"median of 3; bare `python -c pass` {base:.2f} s",
                unit="s",
            )
        )

    print(
        f"phases: ONNX {onnx_phase_s:.0f} s, then torch {torch_phase_s:.0f} s "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads); "
        f"12 MP photo decoded to {image.rgb.shape[1]}x{image.rgb.shape[0]}\n"
    )
    report.print()
    print(f"\nload average at end: {loadavg()}")

    if args.profile:
        b = onnx_bundles[HYBRID]
        x = inputs[HYBRID]
        target = int(np.argmax(b.model.forward(x).logits[0]))
        profile_gradient(b.info.path, x, target, len(b.card.classes), n, args.runs)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
