"""One model's training: augmentation, the epoch loop, early stopping, checkpoints for resuming.

Faces arrive aligned (uint8, N x S x S x 3, cached by the engine) and stay in memory, so the loader
is an index permutation and the model never waits on disk. The device, mixed precision and the
DDP process group come from ``runtime`` (``Runtime`` and ``make_runtime`` are also importable from
here); under ``torchrun`` the model is wrapped in DistributedDataParallel and each process trains
on its share of every epoch.
"""

from __future__ import annotations

import logging
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.errors import ModelError
from dysmorph_desk.training.config import Augment, TrainConfig
from dysmorph_desk.training.progress import Bar
from dysmorph_desk.training.runtime import Runtime, from_first_process, sync_after_epoch
from dysmorph_desk.training.runtime import make_runtime as make_runtime  # callers import it here
from dysmorph_desk.utils.atomic import open_atomic

log = logging.getLogger(__name__)
Say = Callable[[str], None]


# ------------------------------------------------------------------------------------------------
# Batches


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
    theta = torch.stack(
        [
            torch.stack([sc * torch.cos(ang) * flip, -sc * torch.sin(ang), tx], 1),
            torch.stack([sc * torch.sin(ang) * flip, sc * torch.cos(ang), ty], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = x * u(1 - aug.brightness, 1 + aug.brightness).view(b, 1, 1, 1)
    x = x + torch.randn(x.shape, generator=gen).to(dev) * aug.noise
    return x.clamp_(0, 1)


def normalise(x, mean, std):
    import torch

    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def to_batch(faces: np.ndarray, device: str):
    import torch

    return (
        torch.from_numpy(np.ascontiguousarray(faces)).to(device).permute(0, 3, 1, 2).float() / 255
    )


def predict_logits(
    model, faces: np.ndarray, mean, std, rt: Runtime, batch: int = 32, variants=None
) -> np.ndarray:
    """Raw logits (before temperature) of the model for aligned uint8 faces: the mean over the
    test-time variants (default: screening's, ``screening/stability.py``), as screening reports
    them, so temperatures, thresholds and metrics are fitted on what a clinic will see."""
    from dysmorph_desk.training.variants import DEFAULT_VARIANTS, predict_outputs

    out = predict_outputs(model, faces, mean, std, rt, variants or DEFAULT_VARIANTS, batch=batch)
    return out["logits"].mean(axis=0)


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (mean 1 over samples): seed 001 had 51 Alagille vs 1206 controls."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return counts.sum() / (n_classes * np.maximum(counts, 1))


def epoch_order(
    train_idx: np.ndarray, y: np.ndarray, balance: str, rng: np.random.Generator, n_classes: int
) -> np.ndarray:
    """This epoch's photo order: a permutation, or class-balanced draws with replacement."""
    if balance == "sampler":
        w = class_weights(y[train_idx], n_classes)[y[train_idx]]
        return rng.choice(train_idx, size=len(train_idx), replace=True, p=w / w.sum())
    return rng.permutation(train_idx)


def shard(order: np.ndarray, rank: int, world: int, batch: int) -> np.ndarray:
    """This process's share of the epoch, equal-sized across processes (DDP needs equal steps)."""
    if world == 1:
        return order
    per = (len(order) // (world * batch)) * batch or len(order) // world
    return order[rank * per : (rank + 1) * per]


# ------------------------------------------------------------------------------------------------
# Training


@dataclass
class Trained:
    model: Any
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    runtime_s: float = 0.0
    resumed_from: int = 0  # epochs that were already done when this process started


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    with open_atomic(path) as fh:
        torch.save(state, fh)


def _load_checkpoint(path: Path) -> dict[str, Any] | None:
    import torch

    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        OSError,
        RuntimeError,
        ValueError,
        EOFError,
        pickle.UnpicklingError,
    ) as exc:  # torn or foreign: start over
        log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None


def _unwrap(model):
    return getattr(model, "module", model)


def train_model(
    cfg: TrainConfig,
    faces: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    n_classes: int,
    rt: Runtime,
    *,
    label: str = "",
    checkpoint: Path | None = None,
    fixed_epochs: int | None = None,
    say: Say | None = None,
    show_bars: bool = True,
) -> Trained:
    """Train ``cfg.arch`` with early stopping on validation loss (or for ``fixed_epochs`` with no
    validation part); returns the best weights. Each finished epoch is checkpointed, so an
    interrupted run resumes at the next epoch with the same random state."""
    import torch
    import torch.nn.functional as F

    from dysmorph_desk.nets import create_model, get_arch
    from dysmorph_desk.nets.freeze import keep_frozen_in_eval

    say = say or (lambda m: None)
    spec = get_arch(cfg.arch)
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.arch, n_classes)
    if cfg.init:
        from dysmorph_desk.nets.pretrained import load_init_weights

        report = load_init_weights(model, Path(cfg.init))
        say(report.summary())
    frozen = []
    if cfg.freeze_blocks:
        from dysmorph_desk.errors import UsageError
        from dysmorph_desk.nets.freeze import freeze_early

        try:
            frozen = freeze_early(model, cfg.freeze_blocks)
        except ValueError as exc:
            raise UsageError(f"--freeze-blocks: {exc}") from None
        say(f"{label}: first {cfg.freeze_blocks} blocks frozen (pretrained)")
    model = model.to(rt.device).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    weights = torch.tensor(
        class_weights(y[train_idx], n_classes)
        if cfg.balance == "weighted-loss"
        else np.ones(n_classes),
        dtype=torch.float32,
        device=rt.device,
    )
    opt_cls = torch.optim.RMSprop if cfg.optimizer == "rmsprop" else torch.optim.Adam
    opt = opt_cls([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    scaler = torch.amp.GradScaler(rt.device_type, enabled=rt.amp_dtype == torch.float16)
    epochs = fixed_epochs or cfg.epochs
    history: list[dict[str, float]] = []
    best_state, best_loss, best_epoch, stale, start_epoch, spent = None, math.inf, 0, 0, 1, 0.0

    state = _load_checkpoint(checkpoint) if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["torch_gen"])
        torch.set_rng_state(state["torch_global"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if state.get("cuda_rng") is not None and rt.device_type == "cuda":
            torch.cuda.set_rng_state_all(list(state["cuda_rng"]))
        rng.bit_generator.state = state["numpy_rng"]
        history, best_state = list(state["history"]), state.get("best")
        best_loss, best_epoch, stale = state["best_loss"], state["best_epoch"], state["stale"]
        start_epoch, spent = state["epoch"] + 1, state["runtime_s"]
        if state.get("stopped"):
            start_epoch = epochs + 1
        say(f"{label}: resuming after epoch {state['epoch']}")
    resumed_from = start_epoch - 1

    net = model
    if rt.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(
            model, device_ids=[rt.device] if rt.device_type == "cuda" else None
        )
    margin = getattr(model, "margin_logits", None)
    t_start = time.perf_counter()
    for epoch in range(start_epoch, epochs + 1):
        net.train()
        keep_frozen_in_eval(frozen)
        t0, seen, total = time.perf_counter(), 0, 0.0
        order = shard(
            epoch_order(train_idx, y, cfg.balance, rng, n_classes),
            rt.rank,
            rt.world,
            cfg.batch_size,
        )
        bar = Bar(f"{label} epoch {epoch}/{epochs}", len(order), enabled=show_bars and rt.is_main)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm cannot train on one image
                continue
            x = augment_batch(to_batch(faces[idx], rt.device), cfg.augment, gen)
            x = normalise(x, spec.mean, spec.std).contiguous(memory_format=torch.channels_last)
            target = torch.from_numpy(y[idx]).to(rt.device)
            try:
                with rt.autocast():
                    logits = net(x).float()
                    if margin is not None:
                        logits = margin(logits, target)
                    loss = F.cross_entropy(logits, target, weight=weights)
            except torch.OutOfMemoryError:
                raise ModelError(
                    f"out of memory on {rt.device} at batch size {cfg.batch_size}; "
                    f"try a smaller --batch-size"
                ) from None
            if not torch.isfinite(loss):
                if scaler.is_enabled():  # fp16: the scaler skips this step and lowers its scale
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                    continue
                raise ModelError(
                    f"{label or 'training'} diverged (loss is not finite) in epoch {epoch}; "
                    f"try a lower --lr or --precision fp32"
                )
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            seen += len(idx)
            total += loss.item() * len(idx)
            bar.update(len(idx))
        bar.close()
        dt = time.perf_counter() - t0
        row = {
            "epoch": epoch,
            "train_loss": total / max(seen, 1),
            "images_per_s": seen * rt.world / dt if dt else 0.0,
        }
        if rt.world > 1:
            sync_after_epoch(model)
        if len(val_idx):
            val_logits = predict_logits(model, faces[val_idx], spec.mean, spec.std, rt)
            val_loss = float(
                F.cross_entropy(
                    torch.from_numpy(val_logits), torch.from_numpy(y[val_idx]), weight=weights.cpu()
                )
            )
            val_acc = float(np.mean(val_logits.argmax(1) == y[val_idx]))
            if (
                rt.world > 1
            ):  # every process takes the first one's numbers: same early-stopping decisions
                val_loss, val_acc = from_first_process([val_loss, val_acc], rt)
            if not np.isfinite(val_loss):
                raise ModelError(
                    f"{label or 'training'}: validation loss is not finite after epoch {epoch}; "
                    f"try a lower --lr or --precision fp32"
                )
            row["val_loss"], row["val_accuracy"] = val_loss, val_acc
        history.append(row)
        stop = False
        if "val_loss" in row:
            if row["val_loss"] < best_loss - 1e-4:
                best_loss, best_epoch, stale = row["val_loss"], epoch, 0
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                }
            else:
                stale += 1
                stop = stale >= cfg.patience
        else:
            best_epoch = epoch
        if checkpoint is not None and rt.is_main:
            _save_checkpoint(
                checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "epoch": epoch,
                    "torch_gen": gen.get_state(),
                    "torch_global": torch.get_rng_state(),
                    "numpy_rng": rng.bit_generator.state,
                    "history": history,
                    "best": best_state,
                    "best_loss": best_loss,
                    "best_epoch": best_epoch,
                    "stale": stale,
                    "runtime_s": spent + time.perf_counter() - t_start,
                    "stopped": stop,
                    "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                    "cuda_rng": torch.cuda.get_rng_state_all()
                    if rt.device_type == "cuda"
                    else None,
                },
            )
        say(
            f"{label} epoch {epoch}/{epochs}: train loss {row['train_loss']:.4f}"
            + (
                f", val loss {row['val_loss']:.4f}, val acc {row['val_accuracy']:.3f}"
                if "val_loss" in row
                else ""
            )
            + f", {row['images_per_s']:.1f} img/s"
        )
        if stop:
            say(f"{label}: early stopping after epoch {epoch} (best epoch {best_epoch})")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if checkpoint is not None and rt.is_main:  # for the card's stability and atypicality numbers
        from dysmorph_desk.training.variants import write_heldout

        write_heldout(model, cfg.arch, faces, train_idx, rt, checkpoint)
    return Trained(
        model=model,
        history=history,
        best_epoch=best_epoch or len(history),
        runtime_s=spent + time.perf_counter() - t_start,
        resumed_from=resumed_from,
    )


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017) by minimising validation NLL over a log-spaced grid."""
    z = np.asarray(logits, dtype=np.float64)
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.05), np.log(50), 240)):
        s = z / t
        s = s - s.max(1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def count_parameters(model) -> int:
    return int(sum(p.numel() for p in _unwrap(model).parameters()))
