"""Training settings: one dataclass the CLI fills in and the run folder records (for resuming)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

BALANCING = ("weighted-loss", "sampler", "none")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class Augment:
    """The seeds' augmentation (rotation, scaling, random crop, brightness, noise, flip)."""

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
    optimizer: str = "adam"  # adam (seeds 000, 001) | rmsprop (seed 003)
    seed: int = 0
    folds: int = 5
    protocol: str = "kfold"  # kfold (inner validation split) | 3:1:1 (seed 003)
    val_fraction: float = 0.15
    patience: int = 4
    positive: tuple[str, ...] = ()
    balance: str = "weighted-loss"
    augment: Augment = field(default_factory=Augment)
    precision: str = "auto"
    device: str = "auto"
    init: str | None = None  # local pretrained weights file
    freeze_blocks: int = 0  # first blocks kept fixed (only with init)
    prevalence: float = 0.01  # for PPV/NPV in the outputs
    n_boot: int = 1000

    def fingerprint(self) -> str:
        """What must match for a run folder to be resumed (not the device or precision)."""
        d = asdict(self)
        for k in ("device", "precision", "prevalence", "n_boot"):
            d.pop(k)
        if d["init"]:
            p = Path(d["init"])
            d["init"] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else d["init"]
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
