"""Training one architecture on an aligned-face dataset and exporting a bundle.

Protocol (issue 2's first version): one patient-grouped, stratified train/validation/test split
(3:1:1, as seed 003), Adam (lr 1e-3) or RMSProp, batch 16, the seeds' augmentation, early
stopping on validation loss, temperature and threshold fitted on validation, metrics reported on
the untouched test part. bf16 autocast on CPUs that support it, channels-last.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dysmorph_desk import __version__
from dysmorph_desk.cards import ClassInfo, ModelCard
from dysmorph_desk.datasets import Sample
from dysmorph_desk.errors import DataError, InputRefused
from dysmorph_desk.faces.align import template_description
from dysmorph_desk.metrics import binary_metrics, youden_threshold

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class Augment:
    rotation_deg: float = 10.0
    scale: float = 0.10
    crop: float = 0.06  # random translation as a fraction of the side (random-crop effect)
    brightness: float = 0.2
    noise: float = 0.02
    hflip: bool = True


@dataclass
class TrainConfig:
    arch: str
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    optimizer: str = "adam"
    seed: int = 0
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    patience: int = 4
    positive: tuple[str, ...] = ()
    augment: Augment = field(default_factory=Augment)
    precision: str = "auto"  # auto | fp32 | bf16
    device: str = "auto"


def grouped_split(labels: np.ndarray, groups: list[str], fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Stratified split by patient: every photo of a patient lands in the same part."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    groups_arr = np.asarray(groups)
    parts: list[list[int]] = [[] for _ in fractions]
    by_class: dict[int, list[str]] = {}
    first_label = {}
    for g, y in zip(groups_arr, labels):
        first_label.setdefault(g, y)
    for g, y in first_label.items():
        by_class.setdefault(int(y), []).append(g)
    assign: dict[str, int] = {}
    for y, gs in sorted(by_class.items()):
        gs = sorted(gs)
        rng.shuffle(gs)
        cuts = np.round(np.cumsum(fractions) / sum(fractions) * len(gs)).astype(int)
        start = 0
        for k, end in enumerate(cuts):
            for g in gs[start:end]:
                assign[g] = k
            start = end
    for i, g in enumerate(groups_arr):
        parts[assign[g]].append(i)
    return [np.array(sorted(p), dtype=int) for p in parts]


def prepare_faces(samples: list[Sample], size: int, progress: Progress | None = None):
    """Aligned faces for every sample that has one (cached); the others listed with the reason."""
    from dysmorph_desk.facecache import aligned_face_for
    from dysmorph_desk.faces.detect import FaceDetector

    detector = FaceDetector()
    faces, kept, skipped = [], [], []
    for i, s in enumerate(samples):
        try:
            faces.append(aligned_face_for(s.path, size, detector))
            kept.append(s)
        except (InputRefused, OSError) as exc:
            skipped.append((s.path, str(exc)))
        if progress and (i + 1) % 100 == 0:
            progress(f"aligned {i + 1}/{len(samples)} photos")
    return (np.stack(faces) if faces else np.zeros((0, size, size, 3), np.uint8)), kept, skipped


def _bf16_ok(device: str) -> bool:
    import torch

    if device != "cpu":
        return False
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def augment_batch(x, aug: Augment, gen):
    """Seeds' augmentation on a [0,1] batch (B,3,S,S): rotation, scale, crop, brightness, noise, flip."""
    import torch
    import torch.nn.functional as F

    b = x.shape[0]
    dev = x.device

    def u(lo, hi):
        return torch.rand(b, generator=gen).to(dev) * (hi - lo) + lo

    ang = u(-aug.rotation_deg, aug.rotation_deg) * math.pi / 180
    sc = 1.0 / u(1 - aug.scale, 1 + aug.scale)
    tx, ty = u(-aug.crop, aug.crop) * 2, u(-aug.crop, aug.crop) * 2
    flip = torch.where(u(0, 1) < 0.5, -1.0, 1.0) if aug.hflip else torch.ones(b, device=dev)
    theta = torch.stack([
        torch.stack([sc * torch.cos(ang) * flip, -sc * torch.sin(ang), tx], 1),
        torch.stack([sc * torch.sin(ang) * flip, sc * torch.cos(ang), ty], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = x * u(1 - aug.brightness, 1 + aug.brightness).view(b, 1, 1, 1)
    x = x + torch.randn(x.shape, generator=gen).to(dev) * aug.noise
    return x.clamp_(0, 1)


def _normalise(x, mean, std):
    import torch

    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def predict_logits(model, faces: np.ndarray, mean, std, device: str, batch: int = 32, bf16: bool = False) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(faces), batch):
            x = torch.from_numpy(faces[i : i + batch]).to(device).permute(0, 3, 1, 2).float() / 255
            x = _normalise(x, mean, std).contiguous(memory_format=torch.channels_last)
            out.append(model(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017) by minimising validation NLL over a log-spaced grid."""
    z = np.asarray(logits, dtype=np.float64)
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.05), np.log(20), 200)):
        s = z / t
        s = s - s.max(1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def train_model(arch: str, faces: np.ndarray, y: np.ndarray, train_idx, val_idx, cfg: TrainConfig,
                n_classes: int, progress: Progress | None = None):
    """Train with early stopping on validation loss; returns (model with best weights, history)."""
    import torch
    import torch.nn.functional as F

    from dysmorph_desk.devices import pick_device
    from dysmorph_desk.nets import create_model, get_arch

    say = progress or (lambda m: None)
    device = pick_device(cfg.device)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and _bf16_ok(device))
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    spec = get_arch(arch)
    model = create_model(arch, n_classes).to(device).to(memory_format=torch.channels_last)
    counts = np.bincount(y[train_idx], minlength=n_classes).astype(np.float64)
    weights = torch.tensor(counts.sum() / (n_classes * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    if cfg.optimizer == "rmsprop":
        opt = torch.optim.RMSprop(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history, best, best_loss, stale = [], None, np.inf, 0
    rng = np.random.default_rng(cfg.seed)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0, seen, total = time.perf_counter(), 0, 0.0
        order = rng.permutation(train_idx)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if len(idx) < 2:
                continue
            x = torch.from_numpy(faces[idx]).to(device).permute(0, 3, 1, 2).float() / 255
            x = _normalise(augment_batch(x, cfg.augment, gen), spec.mean, spec.std)
            x = x.contiguous(memory_format=torch.channels_last)
            target = torch.from_numpy(y[idx]).to(device)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x).float(), target, weight=weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx)
            total += loss.item() * len(idx)
        dt = time.perf_counter() - t0
        val_logits = predict_logits(model, faces[val_idx], spec.mean, spec.std, device, bf16=bf16)
        val_loss = float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(y[val_idx]), weight=weights.cpu()))
        val_acc = float(np.mean(val_logits.argmax(1) == y[val_idx]))
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": val_loss, "val_accuracy": val_acc,
                        "images_per_s": seen / dt if dt else 0.0})
        say(f"epoch {epoch}/{cfg.epochs}: train loss {total / max(seen, 1):.4f}, val loss {val_loss:.4f}, "
            f"val acc {val_acc:.3f}, {seen / dt:.1f} img/s")
        if val_loss < best_loss - 1e-4:
            best_loss, stale = val_loss, 0
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= cfg.patience:
                say(f"early stopping after epoch {epoch}")
                break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    return model, history, bf16, device


def run_training(samples: list[Sample], cfg: TrainConfig, out: Path, *, name: str | None = None,
                 status: str = "research", training_summary: str = "", intended_use: str = "",
                 class_names: dict[str, str] | None = None, progress: Progress | None = None) -> Path:
    """Align, split, train, calibrate, evaluate on test, and write RUN/metrics.json and the bundle."""
    from dysmorph_desk.atomic import write_text_atomic
    from dysmorph_desk.bundles import save_bundle
    from dysmorph_desk.nets import get_arch

    say = progress or (lambda m: None)
    spec = get_arch(cfg.arch)
    classes = sorted({s.label for s in samples})
    if len(classes) < 2:
        raise DataError(f"need at least 2 classes, found {classes}")
    positive = list(cfg.positive) or [c for c in classes if c != "control" and "control" in classes]
    if not positive or any(p not in classes for p in positive):
        raise DataError(f"name the syndromic class(es) with --positive (classes: {', '.join(classes)})")
    say(f"aligning {len(samples)} photos (cached after the first run)")
    faces, kept, skipped = prepare_faces(samples, spec.input_size, say)
    for path, reason in skipped:
        say(f"skipped {path.name}: {reason}")
    y = np.array([classes.index(s.label) for s in kept])
    groups = [s.patient_id for s in kept]
    per_class = {c: len({g for g, yy in zip(groups, y) if yy == i}) for i, c in enumerate(classes)}
    if min(per_class.values()) < 5:
        raise DataError(f"too few patients per class for a train/validation/test split: {per_class} (need >= 5 each)")
    train_idx, val_idx, test_idx = grouped_split(y, groups, cfg.split, cfg.seed)
    say(f"split by patient: {len(train_idx)} train, {len(val_idx)} validation, {len(test_idx)} test photos")
    t0 = time.perf_counter()
    model, history, bf16, device = train_model(cfg.arch, faces, y, train_idx, val_idx, cfg, len(classes), say)
    runtime_train = time.perf_counter() - t0
    pos_idx = [classes.index(p) for p in positive]
    val_logits = predict_logits(model, faces[val_idx], spec.mean, spec.std, device, bf16=bf16)
    temperature = fit_temperature(val_logits, y[val_idx])

    def p_synd(logits):
        z = logits / temperature
        z = np.exp(z - z.max(1, keepdims=True))
        return (z / z.sum(1, keepdims=True))[:, pos_idx].sum(1)

    is_pos = np.isin(y, pos_idx)
    threshold = youden_threshold(is_pos[val_idx], p_synd(val_logits))
    t1 = time.perf_counter()
    test_logits = predict_logits(model, faces[test_idx], spec.mean, spec.std, device, bf16=bf16)
    runtime_test = (time.perf_counter() - t1) / max(len(test_idx), 1)
    metrics = binary_metrics(is_pos[test_idx], p_synd(test_logits), threshold)
    metrics.update({
        "protocol": "one patient-grouped stratified train/validation/test split 3:1:1; metrics on the test part",
        "n_test_photos": len(test_idx), "n_test_patients": len({groups[i] for i in test_idx}),
        "runtime_train_s": runtime_train, "runtime_test_s_per_image": runtime_test,
    })
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"{cfg.arch}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    names = class_names or {}
    ages = [s.age_months for s in kept if s.age_months is not None]
    card = ModelCard(
        name=name,
        architecture=cfg.arch,
        classes=[ClassInfo(c, names.get(c, c.replace("_", " ")), c in positive) for c in classes],
        input_size=spec.input_size,
        mean=spec.mean,
        std=spec.std,
        alignment_template=template_description(),
        threshold=threshold,
        status=status,
        intended_use=intended_use or "Research use: screening aid for review by a clinician; not a diagnosis.",
        training_data={
            "summary": training_summary or f"{len(kept)} photos of {len(set(groups))} patients",
            "n_photos": len(kept), "n_patients": len(set(groups)), "n_skipped": len(skipped),
            "per_class_patients": per_class,
        },
        validation_metrics={k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
        age_range_months=(min(ages), max(ages)) if ages else None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        temperature=temperature,
        description=spec.description,
        software_version=__version__,
    )
    bundle_path = out / f"{name}.ddbundle"
    info = save_bundle(bundle_path, model, card, force=True)
    write_text_atomic(out / "metrics.json", json.dumps({
        "arch": cfg.arch, "config": asdict(cfg), "classes": classes, "positive": positive,
        "test": metrics, "threshold": threshold, "temperature": temperature, "history": history,
        "skipped": [[str(p), r] for p, r in skipped], "bundle": str(bundle_path), "bundle_sha256": info.sha256,
    }, indent=2, default=str))
    return bundle_path
