"""Training throughput per architecture on this machine, and the time of the issue's reference run.

    .venv/bin/python benchmarks/bench_training.py [--archs a,b] [--steps N] [--device auto]
    .venv/bin/python benchmarks/bench_training.py --real-run --images 1000 --folds 5 --epochs 10

Throughput: images/s of the real training step (augmentation on the batch, forward, loss,
backward, optimiser step; batch 16; the precision ``--precision auto`` would pick) on random
aligned faces held in memory, as the harness holds them, and inference images/s for validation.
The reference run (hybrid, 5 folds of 1000 aligned 224 px images, 10 epochs, alignment cached) is
estimated from those rates: per fold 4/5 of the images minus the 15% inner validation train for 10
epochs, the validation part is scored every epoch and the test fifth once. ``--real-run`` times the
real thing end to end instead (synthetic photos, aligned once before the clock starts).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ARCHS = (
    "mobilenetv2_bilstm",
    "mobilenetv2",
    "mobilenet",
    "bilstm",
    "resnet18",
    "vgg16_convhead",
    "inception_v4",
    "iresnet100_arcface",
)


def throughput(
    arch: str, steps: int, device: str, precision: str, freeze: int = 0
) -> tuple[float, float, str]:
    """(train images/s, inference images/s, precision used)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from dysmorph_desk.nets import create_model, get_arch
    from dysmorph_desk.training.config import Augment
    from dysmorph_desk.training.loop import (
        augment_batch,
        make_runtime,
        normalise,
        predict_logits,
        to_batch,
    )

    rt = make_runtime(device, precision)
    spec = get_arch(arch)
    torch.manual_seed(0)
    model = create_model(arch, 2)
    frozen = []
    if freeze:  # as with --init ... --freeze-blocks N (the weights' values do not change the speed)
        from dysmorph_desk.nets.freeze import freeze_early

        frozen = freeze_early(model, freeze)
    model = model.to(rt.device).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3)
    faces = np.random.default_rng(0).integers(
        0, 255, (16, spec.input_size, spec.input_size, 3), dtype=np.uint8
    )
    target = torch.tensor([0, 1] * 8, device=rt.device)
    gen = torch.Generator().manual_seed(0)
    margin = getattr(model, "margin_logits", None)
    scaler = torch.amp.GradScaler(rt.device_type, enabled=rt.amp_dtype == torch.float16)

    def step():
        model.train()
        for block in frozen:
            block.eval()
        x = normalise(
            augment_batch(to_batch(faces, rt.device), Augment(), gen), spec.mean, spec.std
        )
        x = x.contiguous(memory_format=torch.channels_last)
        with rt.autocast():
            logits = model(x).float()
            if margin is not None:
                logits = margin(logits, target)
            loss = F.cross_entropy(logits, target)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if rt.device_type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    train_rate = 16 / statistics.median(times)
    predict_logits(model, faces, spec.mean, spec.std, rt)
    t = time.perf_counter()
    for _ in range(2):
        predict_logits(model, np.concatenate([faces, faces]), spec.mean, spec.std, rt)
    infer_rate = 64 / (time.perf_counter() - t)
    return train_rate, infer_rate, rt.precision


def estimate_reference_run(
    train_rate: float,
    infer_rate: float,
    images: int = 1000,
    folds: int = 5,
    epochs: int = 10,
    val_fraction: float = 0.15,
) -> float:
    train_part = images * (folds - 1) / folds
    n_train, n_val, n_test = (
        train_part * (1 - val_fraction),
        train_part * val_fraction,
        images / folds,
    )
    per_fold = epochs * (n_train / train_rate + n_val / infer_rate) + n_test / infer_rate
    return folds * per_fold


def real_run(images: int, folds: int, epochs: int, device: str) -> None:
    """Time ``dysmorph-desk train`` on synthetic photos (alignment cached beforehand, not timed)."""
    from dysmorph_desk.nets import get_arch
    from dysmorph_desk.training.data import load_faceset
    from dysmorph_desk.training.datasets import read_dataset
    from dysmorph_desk.training.synthetic import make_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DYSMORPH_DESK_HOME"] = str(tmp / "home")
        data = tmp / "data"
        print(f"making {images} synthetic photos and aligning them (not timed)...", file=sys.stderr)
        make_synthetic(data, per_class=images // 2, seed=7, photos_per_identity=2)
        load_faceset(read_dataset(data), get_arch("mobilenetv2_bilstm").input_size, ())
        cmd = [
            sys.executable,
            "-m",
            "dysmorph_desk",
            "train",
            "--data",
            str(data),
            "--arch",
            "mobilenetv2_bilstm",
            "--folds",
            str(folds),
            "--epochs",
            str(epochs),
            "--patience",
            str(epochs),
            "--out",
            str(tmp / "run"),
            "--no-bundle",
            "--synthetic",
            "--device",
            device,
        ]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=os.environ.copy(), stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t
    print(
        f"\nreal run: {folds} folds x {epochs} epochs on {images} images (hybrid): {dt / 60:.1f} min "
        f"(goal < 30 min on the 2-core CPU)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default=",".join(DEFAULT_ARCHS))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument(
        "--freeze",
        default="",
        help="also measure the hybrid with these --freeze-blocks values, e.g. 7,14",
    )
    ap.add_argument("--real-run", action="store_true")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    if args.real_run:
        real_run(args.images, args.folds, args.epochs, args.device)
        return
    import torch

    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, CUDA {'yes' if torch.cuda.is_available() else 'no'}"
    )
    print(
        f"{'architecture':<22} {'input':>5} {'precision':>9} {'train img/s':>11} {'infer img/s':>11}"
    )
    rates = {}
    for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
        from dysmorph_desk.nets import get_arch

        tr, inf, prec = throughput(arch, args.steps, args.device, args.precision)
        rates[arch] = (tr, inf)
        print(
            f"{arch:<22} {get_arch(arch).input_size:>5} {prec:>9} {tr:>11.1f} {inf:>11.1f}",
            flush=True,
        )
    for n in [int(v) for v in args.freeze.split(",") if v.strip()]:
        tr, inf, prec = throughput(
            "mobilenetv2_bilstm", args.steps, args.device, args.precision, freeze=n
        )
        rates[f"mobilenetv2_bilstm, {n} blocks frozen"] = (tr, inf)
        print(
            f"{'  ' + str(n) + ' blocks frozen':<22} {224:>5} {prec:>9} {tr:>11.1f} {inf:>11.1f}",
            flush=True,
        )
    for key, (tr, inf) in rates.items():
        if key.startswith("mobilenetv2_bilstm"):
            est = estimate_reference_run(tr, inf)
            print(
                f"estimated reference run ({key}; 5 folds x 1000 images x 10 epochs): {est / 60:.1f} min "
                f"(goal < 30 min on the 2-core CPU)"
            )


if __name__ == "__main__":
    main()
